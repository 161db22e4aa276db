"""Planning a roster import: what importing an upload (consent.roster_files reads it) would do
to a school now, per entity (classrooms, students, guardians, teachers' class links): created,
changed (which fields, before and after), unchanged or left alone, and every problem found as a
row error. Nothing is written here; consent.roster_import applies a plan.

Records are found again by their roster id (``source_id``); a record typed in by staff, without
one, is linked (adopted) when its name is unique on both sides. Students, guardians and
classrooms missing from the files are left alone, and so is membership of classrooms the files
do not name. What the school knows of an existing student's age is changed only when that ends
nobody's consent (consent.rule_changes.age_change_effects); otherwise the plan says so and leaves
it for the participant's own review-and-confirm step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from consent.oneroster import is_oneroster, parse_oneroster
from consent.roster_files import (
    ClassIn,
    GuardianIn,
    RosterIn,
    RosterUnreadable,
    RowError,
    StudentIn,
    parse_template,
)
from consent.rule_changes import AgeOnRecord, age_change_effects
from wellbeing.models import Classroom, Guardian, Organization, Participant, Role, StaffMember

CLASSROOMS, STUDENTS, GUARDIANS, STAFF_LINKS = "classrooms", "students", "guardians", "staff links"
KINDS = (CLASSROOMS, STUDENTS, GUARDIANS, STAFF_LINKS)
CREATE, CHANGE, UNCHANGED, LEFT_ALONE = "create", "change", "unchanged", "left alone"
ACTIONS = (CREATE, CHANGE, UNCHANGED, LEFT_ALONE)


@dataclass(frozen=True)
class PlannedRow:
    """One record of the preview: what the import does to it, and which of its fields change."""

    kind: str
    action: str
    source_id: str
    label: str
    changes: tuple[str, ...] = ()


@dataclass
class RosterPlan:
    """What importing the upload would do now. Its ``token`` stands for exactly that."""

    format: str
    rows: list[PlannedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # What apply_roster does (records of the school, changed in memory only until then).
    new_classes: list[ClassIn] = field(default_factory=list)
    changed_classrooms: dict[Classroom, list[str]] = field(default_factory=dict)
    new_students: list[StudentIn] = field(default_factory=list)
    changed_participants: dict[Participant, list[str]] = field(default_factory=dict)
    memberships: dict[str, list[str]] = field(default_factory=dict)  # student id: class ids
    memberships_removed: list[tuple[int, int]] = field(default_factory=list)
    new_guardians: list[tuple[str, GuardianIn]] = field(default_factory=list)
    changed_guardians: dict[Guardian, list[str]] = field(default_factory=dict)
    teacher_links: list[tuple[str, StaffMember]] = field(default_factory=list)
    ages: list[tuple[Participant, AgeOnRecord]] = field(default_factory=list)

    def add(self, kind: str, action: str, source_id: str, label: str, *changes: str) -> None:
        self.rows.append(PlannedRow(kind, action, source_id, label, tuple(changes)))

    def counts(self) -> dict[str, dict[str, int]]:
        tally = Counter((r.kind, r.action) for r in self.rows)
        return {kind: {action: tally[kind, action] for action in ACTIONS} for kind in KINDS}

    def listed(self, kind: str, action: str) -> list[PlannedRow]:
        return [r for r in self.rows if r.kind == kind and r.action == action]

    @property
    def writes(self) -> bool:
        return any(r.action in (CREATE, CHANGE) for r in self.rows)

    @property
    def token(self) -> str:
        parts = sorted(f"{r.kind}|{r.action}|{r.source_id}|{r.changes}" for r in self.rows)
        parts += [str(e) for e in self.errors]
        return hashlib.sha256("\n".join([self.format, *parts]).encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        changed = [r for r in self.rows if r.action != UNCHANGED]
        return {
            "format": self.format,
            "counts": self.counts(),
            "rows": [
                {
                    "kind": r.kind,
                    "action": r.action,
                    "source_id": r.source_id,
                    "label": r.label,
                    "changes": list(r.changes),
                }
                for r in changed
            ],
            "errors": [error_dict(e) for e in self.errors],
            "notes": self.notes,
            "creates_consent": False,
            "token": self.token,
        }


def error_dict(error: RowError) -> dict[str, Any]:
    return {
        "file": error.file,
        "line": error.line,
        "column": error.column,
        "message": error.message,
    }


def read_roster(files: dict[str, bytes], today: dt.date, school_id: str = "") -> RosterIn:
    """The upload in either format (OneRoster 1.1 when it has users.csv, classes.csv or
    enrollments.csv; else the template, one CSV file). RosterUnreadable otherwise."""
    if is_oneroster(files):
        return parse_oneroster(files, today, school_id)
    if len(files) == 1:
        return parse_template(files, today)
    raise RosterUnreadable(
        "Upload OneRoster 1.1 files (users.csv, classes.csv, enrollments.csv, and orgs.csv, "
        "demographics.csv when you have them), as a zip or one by one, or the roster template."
    )


def plan_roster(
    organization: Organization, files: dict[str, bytes], school_id: str = ""
) -> RosterPlan:
    """What importing ``files`` into ``organization`` would do now (nothing is written)."""
    roster = read_roster(files, organization.local_today(), school_id)
    plan = RosterPlan(roster.format, errors=list(roster.errors), notes=list(roster.notes))
    school = _SchoolNow.load(organization)
    _plan_classrooms(plan, roster, school)
    _plan_students(plan, roster, school)
    _plan_guardians(plan, roster, school)
    _plan_staff_links(plan, roster, school)
    plan.errors.sort(key=lambda e: (e.file, e.line, e.column))
    return plan


@dataclass
class _SchoolNow:
    """The school's records an import compares with, loaded in a few queries."""

    organization: Organization
    classrooms: list[Classroom]
    participants: list[Participant]
    memberships: dict[int, set[int]]  # participant: classrooms
    guardians: dict[tuple[int, str], Guardian]
    teachers_by_email: dict[str, StaffMember]
    teacher_links: set[tuple[int, int]]
    # Filled while planning: the roster id's record, once found or adopted.
    classroom_of: dict[str, Classroom] = field(default_factory=dict)
    participant_of: dict[str, Participant] = field(default_factory=dict)

    @classmethod
    def load(cls, organization: Organization) -> _SchoolNow:
        members = Participant.classrooms.through.objects
        teaches = Classroom.teachers.through.objects
        people = list(Participant.objects.filter(organization=organization).order_by("pk"))
        for person in people:
            person.organization = organization
        memberships: dict[int, set[int]] = {}
        pairs = members.filter(participant__organization=organization)
        for person_id, room_id in pairs.values_list("participant_id", "classroom_id"):
            memberships.setdefault(person_id, set()).add(room_id)
        teachers = StaffMember.objects.filter(
            organization=organization, role=Role.TEACHER, user__is_active=True
        ).select_related("user")
        return cls(
            organization,
            list(Classroom.objects.filter(organization=organization).order_by("pk")),
            people,
            memberships,
            {
                (g.participant_id, g.source_id): g
                for g in Guardian.objects.filter(participant__organization=organization).exclude(
                    source_id=""
                )
            },
            {t.user.email.lower(): t for t in teachers if t.user.email},
            set(
                teaches.filter(classroom__organization=organization).values_list(
                    "classroom_id", "staffmember_id"
                )
            ),
        )


def _adoptable(records: list[Any], name_of: str, wanted: list[str]) -> dict[str, Any]:
    """Records without a roster id whose name is unique among them and among ``wanted``: an
    import links such a record instead of making a second one of the same name."""
    unsourced = Counter(getattr(r, name_of) for r in records if not r.source_id)
    asked = Counter(wanted)
    return {
        getattr(r, name_of): r
        for r in records
        if not r.source_id
        and unsourced[getattr(r, name_of)] == 1
        and asked[getattr(r, name_of)] == 1
    }


def _plan_classrooms(plan: RosterPlan, roster: RosterIn, school: _SchoolNow) -> None:
    by_source = {c.source_id: c for c in school.classrooms if c.source_id}
    by_name = {c.name: c for c in school.classrooms}
    adoptable = _adoptable(school.classrooms, "name", [c.name for c in roster.classes.values()])
    names_taken: dict[str, str] = {}
    for wanted in roster.classes.values():
        room = by_source.get(wanted.source_id) or adoptable.get(wanted.name)
        holder = by_name.get(wanted.name)
        if wanted.name in names_taken or (holder is not None and holder is not room):
            plan.errors.append(
                RowError(
                    *wanted.where,
                    "title",
                    f"a classroom named {wanted.name!r} already exists; rename one of them.",
                )
            )
            continue
        names_taken[wanted.name] = wanted.source_id
        if room is not None and room.source_id and room.source_id != wanted.source_id:
            room = None  # adopted by name, but it is another roster's classroom
        if room is None:
            plan.new_classes.append(wanted)
            plan.add(CLASSROOMS, CREATE, wanted.source_id, wanted.name)
            continue
        school.classroom_of[wanted.source_id] = room
        changes = _set_fields(
            room, {"name": wanted.name, "grade": wanted.grade, "source_id": wanted.source_id}
        )
        _record(
            plan, plan.changed_classrooms, room, changes, CLASSROOMS, wanted.source_id, wanted.name
        )
    for room in school.classrooms:
        if room.source_id and room.source_id not in roster.classes:
            plan.add(CLASSROOMS, LEFT_ALONE, room.source_id, room.name, "not in the files")


def _set_fields(record: Any, wanted: dict[str, Any]) -> dict[str, str]:
    """Set the fields that differ (None: not given, left alone); "field: before → after" each."""
    changes = {}
    for name, value in wanted.items():
        before = getattr(record, name)
        if value is not None and value != before:
            changes[name] = f"{name}: {before or '—'} → {value or '—'}"
            setattr(record, name, value)
    return changes


def _record(
    plan: RosterPlan,
    changed: dict[Any, list[str]],
    record: Any,
    changes: dict[str, str],
    kind: str,
    source_id: str,
    label: str,
) -> None:
    if changes:
        changed[record] = list(changes)
        described = [("roster id recorded" if k == "source_id" else v) for k, v in changes.items()]
        plan.add(kind, CHANGE, source_id, label, *described)
    else:
        plan.add(kind, UNCHANGED, source_id, label)


def _plan_students(plan: RosterPlan, roster: RosterIn, school: _SchoolNow) -> None:
    by_source = {p.source_id: p for p in school.participants if p.source_id}
    wanted_names = [s.full_name for s in roster.students.values()]
    adoptable = _adoptable(school.participants, "full_name", wanted_names)
    rooms = {c.pk: c.name for c in school.classroom_of.values()}
    new_rooms = {c.source_id: c.name for c in plan.new_classes}
    for student in roster.students.values():
        person = by_source.get(student.source_id) or adoptable.get(student.full_name)
        plan.memberships[student.source_id] = [c for c in student.class_ids if c in roster.classes]
        if person is None:
            plan.new_students.append(student)
            plan.add(STUDENTS, CREATE, student.source_id, student.full_name)
            continue
        school.participant_of[student.source_id] = person
        wanted = {
            "full_name": student.full_name,
            "grade": student.grade,
            "source_id": student.source_id,
            # As guardians' contacts: an address only fills in, a blank keeps the record's.
            "email": student.email or None,
        }
        changes = _set_fields(person, wanted)
        described = list(changes.values())
        described += _class_changes(plan, school, student, person, rooms, new_rooms)
        described += _age_change(plan, person, student.age)
        if changes:
            plan.changed_participants[person] = list(changes)
        if described:
            described = [
                ("roster id recorded" if d.startswith("source_id") else d) for d in described
            ]
            plan.add(STUDENTS, CHANGE, student.source_id, student.full_name, *described)
        else:
            plan.add(STUDENTS, UNCHANGED, student.source_id, student.full_name)
    for person in school.participants:
        if person.source_id and person.source_id not in roster.students:
            plan.add(STUDENTS, LEFT_ALONE, person.source_id, person.full_name, "not in the files")


def _class_changes(
    plan: RosterPlan,
    school: _SchoolNow,
    student: StudentIn,
    person: Participant,
    rooms: dict[int, str],
    new_rooms: dict[str, str],
) -> list[str]:
    """Membership of the roster's classrooms (``rooms``, by pk: name; ``new_rooms``, to be
    created, by roster id: name) follows the files; membership of other classrooms is left
    alone."""
    current = school.memberships.get(person.pk, set()) & set(rooms)
    wanted = plan.memberships[student.source_id]
    wanted_rooms = {school.classroom_of[c].pk for c in wanted if c in school.classroom_of}
    added = [rooms[r] for r in wanted_rooms - current]
    added += [new_rooms[c] for c in wanted if c in new_rooms]
    removed = [rooms[r] for r in current - wanted_rooms]
    plan.memberships_removed += [(person.pk, r) for r in current - wanted_rooms]
    if not (added or removed):
        return []
    changes = [*(f"+{n}" for n in sorted(added)), *(f"-{n}" for n in sorted(removed))]
    return ["classes: " + ", ".join(changes)]


def _age_change(plan: RosterPlan, person: Participant, age: AgeOnRecord | None) -> list[str]:
    """An age that differs from the record: changed when that ends nobody's consent."""
    if age is None or age == AgeOnRecord(person.date_of_birth, person.birth_year, person.age_band):
        return []
    effects = age_change_effects(person, age)
    if effects.losing:
        lost = ", ".join(effects.losing[0].lost)
        plan.notes.append(
            f"{person.full_name} ({person.pseudonym}): the age in the files is not recorded, "
            f"because it would end their {lost} consent (their own grant would no longer "
            "count). Change it on their record, which shows what that ends and asks to confirm."
        )
        return []
    plan.ages.append((person, age))
    gained = " (their own grant now counts)" if effects.gaining else ""
    return [f"age on record{gained}"]


def _plan_guardians(plan: RosterPlan, roster: RosterIn, school: _SchoolNow) -> None:
    for student in roster.students.values():
        person = school.participant_of.get(student.source_id)
        for guardian_id in student.guardian_ids:
            wanted = roster.guardians[guardian_id]
            label = f"{wanted.name} ({wanted.relation}) of {student.full_name}"
            key = f"{student.source_id}→{guardian_id}"
            found = school.guardians.get((person.pk, guardian_id)) if person else None
            if found is None:
                plan.new_guardians.append((student.source_id, wanted))
                plan.add(GUARDIANS, CREATE, key, label)
                continue
            # Contacts only fill in: a blank in the files keeps what staff typed in.
            fields = {
                "name": wanted.name,
                "relation": wanted.relation,
                "email": wanted.email or None,
                "phone": wanted.phone or None,
            }
            _record(
                plan,
                plan.changed_guardians,
                found,
                _set_fields(found, fields),
                GUARDIANS,
                key,
                label,
            )
    _guardians_left_alone(plan, roster, school)


def _guardians_left_alone(plan: RosterPlan, roster: RosterIn, school: _SchoolNow) -> None:
    """A guardian the files no longer name stays: consent they gave may rest on them."""
    named = {
        (person.pk, guardian_id)
        for source_id, person in school.participant_of.items()
        for guardian_id in roster.students[source_id].guardian_ids
    }
    in_files = {person.pk: source_id for source_id, person in school.participant_of.items()}
    for (person_id, guardian_id), guardian in school.guardians.items():
        if person_id in in_files and (person_id, guardian_id) not in named:
            label = f"{guardian.name} ({guardian.relation})"
            key = f"{in_files[person_id]}→{guardian_id}"
            plan.add(GUARDIANS, LEFT_ALONE, key, label, "no longer in the files")


def _plan_staff_links(plan: RosterPlan, roster: RosterIn, school: _SchoolNow) -> None:
    for wanted in roster.classes.values():
        room = school.classroom_of.get(wanted.source_id)
        for teacher_id in wanted.teacher_ids:
            teacher = roster.teachers[teacher_id]
            label = f"{teacher.name or teacher.email} teaches {wanted.name}"
            staff = school.teachers_by_email.get(teacher.email)
            if staff is None:
                plan.add(
                    STAFF_LINKS,
                    LEFT_ALONE,
                    teacher_id,
                    label,
                    "no active teacher of the school has this e-mail address",
                )
            elif room is not None and (room.pk, staff.pk) in school.teacher_links:
                plan.add(STAFF_LINKS, UNCHANGED, teacher_id, label)
            else:
                plan.teacher_links.append((wanted.source_id, staff))
                plan.add(STAFF_LINKS, CREATE, f"{teacher_id}→{wanted.source_id}", label)
