"""Demo data: a school whose participants are the people in ../shared/testdata/faces.

It lives in capture, the lowest app that owns everything it seeds (people and consent from the
apps below, its own demo camera), so capture's demo stream can use it without an upward import.

Used by `manage.py seed_demo` (and so by `make demo`) and by the pipeline demo, so the demo shows
the real data flow: consent recorded, faces enrolled from real photos, a device to stream with.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from capture.devices import DeviceAuthError, authenticate_device, create_device, rotate_device_token
from capture.models import CaptureDevice
from consent.actions import EnrollmentError, enroll_face, publish_notice, record_consent
from consent.models import Decision, GivenBy, Scope
from wellbeing.actions import AuditContext, add_guardian, assign_caseload, create_participant
from wellbeing.demo_school import DEMO_MIN_GROUP_SIZE, DEMO_SLUG
from wellbeing.models import Classroom, Jurisdiction, Organization, Participant, Role, StaffMember

log = logging.getLogger(__name__)

DEMO_PASSWORDS = {
    "admin": "demo-admin-pass",
    "counselor": "demo-counselor-pass",
    "teacher": "demo-teacher-pass",
}
FALLBACK_NAMES = ["Ada Example", "Ben Example", "Cleo Example"]
PHOTO_CLASSROOM = "Year 9 Drama"
# (classroom, grade, synthetic students): with the photo people Year 9 Drama has 20+ as well.
SYNTHETIC_CLASSES: tuple[tuple[str, str, int], ...] = (
    (PHOTO_CLASSROOM, "9", 17),
    ("Year 9 History", "9", 22),
    ("Year 10 Science", "10", 22),
)
# The last students of each synthetic class list: one refused, one never answered. They are on
# the roster (as in a real class) and must never have data.
REFUSED, NO_ANSWER = -1, -2
FIRST_NAMES = ("Amira", "Ben", "Callum", "Dara", "Elif", "Finn", "Grace", "Hamza", "Isla", "Jonah",
               "Kofi", "Lena", "Mateo", "Nia", "Oscar", "Priya", "Quinn", "Rosa", "Sami", "Tess",
               "Umar", "Vera", "Wren", "Yusuf", "Zara", "Aled", "Bea", "Cai", "Dilan",
               "Esme")  # fmt: skip
LAST_NAMES = ("Adeyemi", "Brooks", "Chen", "Doyle", "Evans", "Farah", "Garcia", "Hughes", "Iqbal",
              "Jones", "Khan", "Lewis", "Morgan", "Novak", "Okafor", "Patel", "Quinn", "Rahman",
              "Singh", "Taylor", "Usman", "Vance", "Walsh", "Xu", "Young",
              "Zielinski")  # fmt: skip
NOTICE_TEXT = (
    "During lessons in participating classrooms a camera takes one picture per second. A computer "
    "finds faces, recognises students whose consent is on record and estimates their facial "
    "expression. Pictures are never stored: only numbers (expression probabilities, attention) "
    "are kept, raw numbers for 7 days and per-minute summaries for 180 days. A counselor may be "
    "prompted to check in with a student who seems persistently unhappy; nothing happens "
    "automatically. Face templates are kept until consent ends or one year after last use."
)


@dataclass
class DemoSummary:
    created: bool
    participants: list[str] = field(default_factory=list)
    enrolled: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    device_token: str | None = None


def sign_in_lines(server: str = "http://127.0.0.1:8000") -> list[str]:
    """The demo's sign-ins, as `make demo` prints them last."""
    lines = [f"Demo sign-ins ({server}/accounts/login/):"]
    lines += [f"  {role:<10} password: {password}" for role, password in DEMO_PASSWORDS.items()]
    return lines


def demo_token_file() -> Path:
    return Path(settings.DATA_DIR) / "demo-device.token"


def save_demo_token(token: str) -> None:
    """Keep the demo camera's token where `manage.py demo_stream` finds it (owner-only file)."""
    path = demo_token_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n")
    path.chmod(0o600)


def demo_device_token() -> str:
    """The demo camera's token: the saved one if it still works, else a freshly rotated one."""
    path = demo_token_file()
    if path.is_file():
        token = path.read_text().strip()
        try:
            authenticate_device(token)
            return token
        except DeviceAuthError:
            pass
    device = CaptureDevice.objects.filter(organization__slug=DEMO_SLUG).active().first()
    if device is None:
        raise RuntimeError("No demo school: run `manage.py seed_demo` first.")
    token = rotate_device_token(AuditContext.system(device.organization, "demo"), device)
    save_demo_token(token)
    return token


def shared_faces_dir() -> Path:
    return Path(settings.BASE_DIR).parent / "shared" / "testdata" / "faces"


def _identities(faces_dir: Path) -> dict[str, list[Path]]:
    manifest = faces_dir / "manifest.json"
    if not manifest.is_file():
        return {}
    data = json.loads(manifest.read_text())
    return {name: [faces_dir / p for p in paths] for name, paths in data["enroll"].items()}


def _staff(org: Organization, role: str) -> StaffMember:
    user = User.objects.create_user(role, f"{role}@demo.example", DEMO_PASSWORDS[role])
    return StaffMember.objects.create(user=user, organization=org, role=role)


def seed_demo_school(faces_dir: Path | None = None) -> DemoSummary:
    """Create the demo school once; a second call changes nothing and says so."""
    if Organization.objects.filter(slug=DEMO_SLUG).exists():
        return DemoSummary(created=False)
    identities = _identities(faces_dir or shared_faces_dir())
    summary = DemoSummary(created=True)
    with transaction.atomic():
        org = Organization.objects.create(
            name="Demo Academy",
            slug=DEMO_SLUG,
            jurisdiction=Jurisdiction.UK,
            timezone="Europe/London",
            alert_contacts=["head@demo.example"],
            min_group_size=DEMO_MIN_GROUP_SIZE,
            # A local trial with printed passwords and synthetic data: its staff sign in and see
            # the product at once. New schools require two-factor of admins and counselors from
            # their first sign-in, which would send both to the authenticator setup instead; the
            # demo's admin can switch the requirement on at /staff/two-factor/ (docs/demo.md).
            two_factor_roles=[],
        )
        admin, counselor, teacher = (
            _staff(org, r) for r in (Role.ADMIN, Role.COUNSELOR, Role.TEACHER)
        )
        classroom = Classroom.objects.create(organization=org, name=PHOTO_CLASSROOM, grade="9")
        classroom.teachers.add(teacher)
        ctx = AuditContext.system(org, "seed_demo")
        publish_notice(ctx, "Emotion analysis in lessons", NOTICE_TEXT, confirmed=True)
        names = list(identities) or FALLBACK_NAMES
        for key in names:
            participant = create_participant(
                ctx, key.replace("_", " ").title(), grade="9", classrooms=[classroom]
            )
            assign_caseload(ctx, counselor, participant)
            guardian = add_guardian(
                ctx,
                participant,
                f"Guardian of {participant.full_name}",
                "parent",
                email="guardian@demo.example",
            )
            record_consent(
                ctx,
                participant,
                scopes=[Scope.EMOTION_ANALYSIS, Scope.FACE_TEMPLATE],
                decision=Decision.GRANT,
                given_by=GivenBy.GUARDIAN,
                guardian=guardian,
                evidence_reference=f"demo-form-{participant.pseudonym}",
                evidence_date=org.local_today(),
                recorded_by=admin,
            )
            summary.participants.append(participant.full_name)
            _enroll(ctx, participant, identities.get(key, []), summary)
        _, summary.device_token = create_device(ctx, "Year 9 Drama camera", classroom=classroom)
    save_demo_token(summary.device_token)
    return summary


def _enroll(
    ctx: AuditContext, participant: Participant, photos: list[Path], summary: DemoSummary
) -> None:
    if not photos:
        return
    try:
        templates = enroll_face(ctx, participant, [p.read_bytes() for p in photos])
        summary.enrolled[str(participant)] = len(templates)
    except (EnrollmentError, ImportError, OSError) as exc:
        summary.warnings.append(f"{participant}: not enrolled ({exc})")


@dataclass(frozen=True)
class RosterEntry:
    """One student of the demo school as the history generator plans them.

    ``key`` is stable across runs and databases ("Year 9 History#04", or the photo person's
    "Year 9 Drama#obama"), so the generated numbers depend on the seed and the key only.
    """

    key: str
    participant_id: int
    classroom_id: int
    consented: bool


def synthetic_names(seed: int, count: int) -> list[str]:
    """``count`` distinct invented names, the same for the same seed."""
    pairs = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    return random.Random(f"{seed}:names").sample(pairs, count)


def seed_synthetic_roster(org: Organization, seed: int, consent_date: dt.date) -> list[RosterEntry]:
    """Add the synthetic students of SYNTHETIC_CLASSES (with guardians and consent as recorded
    on paper on ``consent_date``; two per class without consent) and return every student of
    those classes, the photo people of the demo classroom included, in a stable order."""
    ctx = AuditContext.system(org, "seed_demo")
    counselor = StaffMember.objects.get(organization=org, role=Role.COUNSELOR)
    teacher = StaffMember.objects.get(organization=org, role=Role.TEACHER)
    names = iter(synthetic_names(seed, sum(size for _, _, size in SYNTHETIC_CLASSES)))
    entries: list[RosterEntry] = []
    for name, grade, size in SYNTHETIC_CLASSES:
        classroom, _ = Classroom.objects.get_or_create(organization=org, name=name, grade=grade)
        classroom.teachers.add(teacher)
        entries += photo_entries(classroom)
        for index in range(size):
            answer = index - size if index - size in (REFUSED, NO_ANSWER) else None
            person = create_participant(ctx, next(names), grade=grade, classrooms=[classroom])
            assign_caseload(ctx, counselor, person)
            record_paper_consent(
                ctx, person, consent_date, refused=answer == REFUSED, skip=answer == NO_ANSWER
            )
            entries.append(
                RosterEntry(f"{name}#{index:02d}", person.pk, classroom.pk, answer is None)
            )
    return entries


def photo_entries(classroom: Classroom) -> list[RosterEntry]:
    """The photo people already in ``classroom`` (consented by seed_demo_school)."""
    people = classroom.participants.order_by("full_name")
    return [
        RosterEntry(
            f"{classroom.name}#{p.full_name.lower().replace(' ', '_')}", p.pk, classroom.pk, True
        )
        for p in people
    ]


def record_paper_consent(
    ctx: AuditContext, person: Participant, day: dt.date, *, refused: bool, skip: bool
) -> None:
    """The guardian's answer on the school's paper form (none at all when ``skip``)."""
    if skip:
        return
    guardian = add_guardian(ctx, person, f"Guardian of {person.full_name}", "parent")
    record_consent(
        ctx,
        person,
        scopes=[Scope.EMOTION_ANALYSIS, Scope.FACE_TEMPLATE],
        decision=Decision.REFUSE if refused else Decision.GRANT,
        given_by=GivenBy.GUARDIAN,
        guardian=guardian,
        evidence_reference=f"demo-form-{person.pseudonym}",
        evidence_date=day,
    )
