"""Reading a roster upload into one shape, whatever its format: OneRoster 1.1 CSV files (a zip
of them, or the files one by one; consent.oneroster) or the school roster template (here).

The result, :class:`RosterIn`, holds the classes, students, guardians and teachers the files
describe, keyed by their source ids, and every problem found as a :class:`RowError` naming the
file, line and column. Nothing here touches the database: consent.roster_import compares the
result with the school and applies it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from consent.rule_changes import AgeOnRecord, ConsentRulesRefused, validate_age

# A 2,000-student OneRoster set with two guardians each is about 2 MB of CSV.
MAX_ROSTER_BYTES = 40_000_000
FORMAT_ONEROSTER = "OneRoster 1.1"
FORMAT_TEMPLATE = "roster template"
TEMPLATE_FILE = "roster.csv"

# Field lengths of the models the rows become (wellbeing.models).
MAX_NAME, MAX_CLASS_NAME, MAX_GRADE, MAX_RELATION, MAX_PHONE, MAX_SOURCE_ID = (
    200,
    120,
    32,
    64,
    32,
    255,
)

# The roster template's columns, in order, and what each holds (the upload page lists them).
TEMPLATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("student_id", "Required. The student's id in your records; a re-import finds them by it."),
    ("full_name", "Required. The student's name as staff see it."),
    ("grade", "Grade or year group, e.g. 7."),
    ("date_of_birth", "YYYY-MM-DD, if known (decides whose consent counts)."),
    ("birth_year", "The year of birth, when the date is not known."),
    ("age_band", "under-13, 13-15, 16-17 or 18-plus, when neither is known."),
    (
        "student_email",
        "Optional. The student's own e-mail address (consent requests and the family portal "
        "use it only while the school's rules let the student decide); blank keeps the one on "
        "record.",
    ),
    ("classes", "Class names separated by ';'. A class is created the first time it is named."),
    ("guardian_name", "First guardian's name."),
    ("guardian_relation", "e.g. mother, father, legal guardian (default: guardian)."),
    ("guardian_email", "First guardian's e-mail address."),
    ("guardian_phone", "First guardian's phone number."),
    ("guardian2_name", "Second guardian, as above."),
    ("guardian2_relation", ""),
    ("guardian2_email", ""),
    ("guardian2_phone", ""),
)
TEMPLATE_EXAMPLE = (
    ("S-1001", "Ada Lovelace", "7", "2013-12-10", "", "", "ada@students.example.org", "7B;Art 7",
     "Anne Lovelace", "mother", "anne@example.org", "+44 20 7946 0000", "", "", "", ""),
    ("S-1002", "Ben Okafor", "7", "", "2013", "", "", "7B", "Chidi Okafor", "father",
     "chidi@example.org", "", "Ngozi Okafor", "mother", "ngozi@example.org", ""),
)  # fmt: skip


class RosterUnreadable(Exception):
    """The upload is not a roster this module can read (message in plain words)."""


@dataclass(frozen=True)
class RowError:
    """One problem with the upload: ``line`` 0 means the file as a whole."""

    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        return (
            f"{where}, {self.column}: {self.message}" if self.column else f"{where}: {self.message}"
        )


@dataclass
class ClassIn:
    source_id: str
    name: str
    grade: str | None  # None: the files say nothing of it (the template), so it is left alone
    where: tuple[str, int]  # file, line
    teacher_ids: list[str] = field(default_factory=list)


@dataclass
class StudentIn:
    source_id: str
    full_name: str
    grade: str
    where: tuple[str, int]  # file, line
    age: AgeOnRecord | None = None  # None: the files say nothing of the age
    email: str = ""  # the student's own address; blank: the files say nothing of it
    class_ids: list[str] = field(default_factory=list)
    guardian_ids: list[str] = field(default_factory=list)


@dataclass
class GuardianIn:
    source_id: str
    name: str
    relation: str
    email: str
    phone: str
    where: tuple[str, int]  # file, line


@dataclass
class TeacherIn:
    source_id: str
    name: str
    email: str
    where: tuple[str, int]  # file, line


@dataclass
class RosterIn:
    """What the upload describes, and what is wrong with it."""

    format: str
    classes: dict[str, ClassIn] = field(default_factory=dict)
    students: dict[str, StudentIn] = field(default_factory=dict)
    guardians: dict[str, GuardianIn] = field(default_factory=dict)
    teachers: dict[str, TeacherIn] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def error(self, file: str, line: int, column: str, message: str) -> None:
        self.errors.append(RowError(file, line, column, message))


def read_upload(uploads: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """The CSV files of an upload by lower-case base name, zips unpacked (their CSVs only).

    Raises RosterUnreadable for a broken zip, a file that is not CSV or zip, the same name
    twice, or more than MAX_ROSTER_BYTES unpacked.
    """
    files: dict[str, bytes] = {}
    for name, content in uploads:
        for inner, data in _unpacked(name, content):
            key = inner.rsplit("/", 1)[-1].lower()
            if key in files:
                raise RosterUnreadable(f"{key} was uploaded twice.")
            files[key] = data
    if sum(len(v) for v in files.values()) > MAX_ROSTER_BYTES:
        raise RosterUnreadable(f"The files hold more than {MAX_ROSTER_BYTES // 1_000_000} MB.")
    if not files:
        raise RosterUnreadable("No CSV file was uploaded.")
    return files


def _unpacked(name: str, content: bytes) -> Iterator[tuple[str, bytes]]:
    if name.lower().endswith(".csv"):
        yield name, content
        return
    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise RosterUnreadable(f"{name} is neither a CSV file nor a zip of CSV files.")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        members = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")]
        # Sizes from the zip's directory first, so a zip bomb is refused before it is inflated.
        if sum(i.file_size for i in members) > MAX_ROSTER_BYTES:
            raise RosterUnreadable(
                f"{name} unpacks to more than {MAX_ROSTER_BYTES // 1_000_000} MB."
            )
        for info in members:
            if not info.filename.rsplit("/", 1)[-1].startswith("."):
                yield info.filename, archive.read(info)


def _reader(roster: RosterIn, files: dict[str, bytes], name: str) -> csv.DictReader[str] | None:
    try:
        text = files[name].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        roster.error(name, 0, "", f"is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8.")
        return None
    return csv.DictReader(io.StringIO(text, newline=""))


def check_header(
    roster: RosterIn, files: dict[str, bytes], name: str, required: tuple[str, ...]
) -> bool:
    """Whether the file is UTF-8 with the ``required`` columns (any case); errors otherwise."""
    reader = _reader(roster, files, name)
    if reader is None:
        return False
    header = {h.strip().lower() for h in reader.fieldnames or []}
    missing = [c for c in required if c.lower() not in header]
    for column in missing:
        roster.error(name, 1, column, "this required column is missing.")
    return not missing


def csv_rows(
    roster: RosterIn, files: dict[str, bytes], name: str, required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a CSV file, headers matched case-insensitively (keys lower-case, values
    stripped); no rows, and check_header's errors, when the file is not UTF-8 or lacks a
    required column."""
    reader = _reader(roster, files, name) if check_header(roster, files, name, required) else None
    if reader is None:
        return
    for row in reader:
        clean = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
        yield reader.line_num, clean


def checked_text(
    roster: RosterIn, where: tuple[str, int], column: str, value: str, limit: int
) -> str:
    """``value``, or an error (and the value cut to ``limit``) when it is too long."""
    if len(value) > limit:
        roster.error(*where, column, f"longer than {limit} characters.")
    return value[:limit]


def checked_email(roster: RosterIn, where: tuple[str, int], column: str, value: str) -> str:
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError:
        roster.error(*where, column, f"{value!r} is not an e-mail address.")
        return ""
    return value.lower()


def checked_age(
    roster: RosterIn, where: tuple[str, int], column: str, age: AgeOnRecord, today: dt.date
) -> AgeOnRecord | None:
    try:
        validate_age(age, today)
    except ConsentRulesRefused as exc:
        roster.error(*where, column, str(exc))
        return None
    return age


def parse_date(roster: RosterIn, where: tuple[str, int], column: str, value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        roster.error(*where, column, f"{value!r} is not a date (YYYY-MM-DD).")
        return None


def template_csv() -> str:
    """The roster template as a CSV file: the header and two example rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([name for name, _ in TEMPLATE_COLUMNS])
    writer.writerows(TEMPLATE_EXAMPLE)
    return out.getvalue()


def parse_template(files: dict[str, bytes], today: dt.date) -> RosterIn:
    """The roster template (one CSV file, one row per student)."""
    roster = RosterIn(FORMAT_TEMPLATE)
    (name,) = files
    for line, row in csv_rows(roster, files, name, ("student_id", "full_name")):
        where = (name, line)
        sid = checked_text(roster, where, "student_id", row.get("student_id", ""), MAX_SOURCE_ID)
        full_name = checked_text(roster, where, "full_name", row.get("full_name", ""), MAX_NAME)
        if not sid or not full_name:
            roster.error(*where, "student_id" if not sid else "full_name", "is empty.")
            continue
        if sid in roster.students:
            roster.error(
                *where, "student_id", f"{sid!r} is also on line {roster.students[sid].where[1]}."
            )
            continue
        student = StudentIn(
            sid,
            full_name,
            checked_text(roster, where, "grade", row.get("grade", ""), MAX_GRADE),
            where,
            age=_template_age(roster, where, row, today),
            email=checked_email(roster, where, "student_email", row.get("student_email", "")),
        )
        roster.students[sid] = student
        _template_classes(roster, where, student, row.get("classes", ""))
        for number, prefix in ((1, "guardian_"), (2, "guardian2_")):
            _template_guardian(roster, where, student, number, prefix, row)
    return roster


def _template_age(
    roster: RosterIn, where: tuple[str, int], row: dict[str, str], today: dt.date
) -> AgeOnRecord | None:
    born, year, band = (
        row.get("date_of_birth", ""),
        row.get("birth_year", ""),
        row.get("age_band", ""),
    )
    if not (born or year or band):
        return None
    date_of_birth = parse_date(roster, where, "date_of_birth", born) if born else None
    if year and not year.isdigit():
        roster.error(*where, "birth_year", f"{year!r} is not a year.")
        return None
    age = AgeOnRecord(date_of_birth, int(year) if year else None, band)
    return checked_age(roster, where, "date_of_birth", age, today)


def _template_classes(
    roster: RosterIn, where: tuple[str, int], student: StudentIn, names: str
) -> None:
    for class_name in filter(None, (n.strip() for n in names.split(";"))):
        class_name = checked_text(roster, where, "classes", class_name, MAX_CLASS_NAME)
        class_id = f"class:{class_name}"
        roster.classes.setdefault(class_id, ClassIn(class_id, class_name, None, student.where))
        if class_id not in student.class_ids:
            student.class_ids.append(class_id)


def _template_guardian(
    roster: RosterIn,
    where: tuple[str, int],
    student: StudentIn,
    number: int,
    prefix: str,
    row: dict[str, str],
) -> None:
    name = checked_text(roster, where, f"{prefix}name", row.get(f"{prefix}name", ""), MAX_NAME)
    email = checked_email(roster, where, f"{prefix}email", row.get(f"{prefix}email", ""))
    phone = checked_text(roster, where, f"{prefix}phone", row.get(f"{prefix}phone", ""), MAX_PHONE)
    if not name:
        if email or phone:
            roster.error(*where, f"{prefix}name", "is empty, but a contact is given.")
        return
    relation = row.get(f"{prefix}relation", "") or "guardian"
    guardian_id = f"{student.source_id}/guardian{number}"
    roster.guardians[guardian_id] = GuardianIn(
        guardian_id,
        name,
        checked_text(roster, where, f"{prefix}relation", relation, MAX_RELATION),
        email,
        phone,
        student.where,
    )
    student.guardian_ids.append(guardian_id)
