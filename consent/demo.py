"""Demo data: a school whose participants are the people in ../shared/testdata/faces.

It lives in consent, the lowest app that owns everything it seeds (people, devices, consent,
enrollment), so capture's demo stream can use it without an upward import.

Used by `manage.py seed_demo` (and so by `make demo`) and by the pipeline demo, so the demo shows
the real data flow: consent recorded, faces enrolled from real photos, a device to stream with.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from consent.actions import EnrollmentError, enroll_face, publish_notice, record_consent
from consent.models import Decision, GivenBy, Scope
from wellbeing.actions import (
    AuditContext,
    DeviceAuthError,
    add_guardian,
    assign_caseload,
    authenticate_device,
    create_device,
    create_participant,
    rotate_device_token,
)
from wellbeing.models import (
    CaptureDevice,
    Classroom,
    Jurisdiction,
    Organization,
    Participant,
    Role,
    StaffMember,
)

log = logging.getLogger(__name__)

DEMO_SLUG = "demo-academy"
DEMO_PASSWORDS = {
    "admin": "demo-admin-pass",
    "counselor": "demo-counselor-pass",
    "teacher": "demo-teacher-pass",
}
FALLBACK_NAMES = ["Ada Example", "Ben Example", "Cleo Example"]
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
        )
        admin, counselor, teacher = (
            _staff(org, r) for r in (Role.ADMIN, Role.COUNSELOR, Role.TEACHER)
        )
        classroom = Classroom.objects.create(organization=org, name="Year 9 Drama", grade="9")
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
