"""Roster import: classrooms, students, guardians and teachers' class links from the school's
roster system (OneRoster 1.1 CSV files or the roster template), previewed first
(:func:`consent.roster_plan.plan_roster`: what would be created, changed or left alone, and
every row error), then applied by :func:`apply_roster` in one transaction under the school's row
lock: all or nothing, and only the plan the admin reviewed (its ``token``).

Importing the same files twice changes nothing; a changed name, grade or class changes only
that. An import never deletes and never records consent: an imported student has none until it
is given (consent first). Each import is audited: one ``roster.import`` event with the counts,
and the usual per-record events (``participant.create``, ``guardian.update``, ...) marked
``source: "roster import"``, written in bulk.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from consent.roster_files import RowError
from consent.roster_plan import RosterPlan, error_dict, plan_roster
from consent.rule_changes import AgeOnRecord, ChangeNotConfirmed, set_participant_age
from wellbeing.actions import AuditContext, build_audit_event, record_audit
from wellbeing.models import AuditEvent, Classroom, Guardian, Organization, Participant
from wellbeing.refusals import Refused

__all__ = [
    "RosterChanged",
    "RosterRefused",
    "apply_roster",
    "plan_roster",
    "record_roster_preview",
]


class RosterRefused(Refused):
    """The upload has errors (or cannot be read); nothing was imported."""

    code = "roster_refused"

    def __init__(self, message: str, errors: list[RowError] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    def extra_fields(self) -> dict[str, Any]:
        return {"errors": [error_dict(e) for e in self.errors]}


class RosterChanged(Refused):
    """The school or the files changed since the preview: nothing was imported. ``plan`` is the
    preview as it is now, to be reviewed again."""

    code = "confirmation_required"
    status = 409

    def __init__(self, plan: RosterPlan) -> None:
        super().__init__("What this import would do is not what was reviewed; nothing changed.")
        self.plan = plan

    def extra_fields(self) -> dict[str, Any]:
        return {"preview": self.plan.as_dict()}


def _counted(plan: RosterPlan) -> dict[str, dict[str, int]]:
    return {kind: {a: n for a, n in c.items() if n} for kind, c in plan.counts().items()}


def record_roster_preview(ctx: AuditContext, plan: RosterPlan) -> None:
    """Audit a preview (it names the school's students whose records the files change)."""
    record_audit(
        ctx,
        "roster.preview",
        format=plan.format,
        counts=_counted(plan),
        errors=len(plan.errors),
        token=plan.token,
    )


def apply_roster(
    ctx: AuditContext, files: dict[str, bytes], school_id: str = "", *, reviewed: str
) -> RosterPlan:
    """Import ``files`` into the actor's school, all or nothing, if the plan has no errors and
    its token is ``reviewed`` (RosterRefused, RosterChanged otherwise; nothing changed)."""
    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=ctx.organization.pk)  # one at a time
        plan = plan_roster(ctx.organization, files, school_id)
        if plan.token != reviewed:
            raise RosterChanged(plan)
        if plan.errors:
            raise RosterRefused(
                f"The files have {len(plan.errors)} errors; nothing was imported.", plan.errors
            )
        events = _write(ctx, plan)
        AuditEvent.objects.bulk_create(events, batch_size=1000)
        record_audit(
            ctx, "roster.import", format=plan.format, counts=_counted(plan), token=plan.token
        )
    return plan


def _write(ctx: AuditContext, plan: RosterPlan) -> list[AuditEvent]:
    """Apply the plan (inside apply_roster's transaction); the audit events it owes."""
    org = ctx.organization
    events: list[AuditEvent] = []
    created = Classroom.objects.bulk_create(
        [
            Classroom(organization=org, name=c.name, grade=c.grade or "", source_id=c.source_id)
            for c in plan.new_classes
        ]
    )
    events += [
        build_audit_event(ctx, "classroom.create", target=c, name=c.name, source="roster import")
        for c in created
    ]
    _save_changed(plan.changed_classrooms)
    rooms = _classrooms_now(org)
    events += [
        build_audit_event(ctx, "classroom.update", target=c, fields=f, source="roster import")
        for c, f in plan.changed_classrooms.items()
    ]
    people = _write_participants(ctx, plan, events)
    _write_memberships(plan, people, rooms)
    _write_guardians(ctx, plan, people, events)
    teaches = Classroom.teachers.through
    links = [teaches(classroom_id=rooms[c].pk, staffmember_id=s.pk) for c, s in plan.teacher_links]
    teaches.objects.bulk_create(links, ignore_conflicts=True)
    events += [
        build_audit_event(
            ctx, "classroom.update", target=rooms[c], fields=["teachers"], source="roster import"
        )
        for c, _ in plan.teacher_links
    ]
    for person, age in plan.ages:
        try:  # ends nobody's consent (checked in the plan, and again here under the lock)
            set_participant_age(ctx, person, age)
        except ChangeNotConfirmed:
            raise RosterChanged(plan) from None
    return events


def _classrooms_now(org: Organization) -> dict[str, Classroom]:
    return {
        c.source_id: c for c in Classroom.objects.filter(organization=org).exclude(source_id="")
    }


def _save_changed(changed: dict[Any, list[str]]) -> None:
    for record, fields in changed.items():
        record.save(update_fields=fields)


def _write_participants(
    ctx: AuditContext, plan: RosterPlan, events: list[AuditEvent]
) -> dict[str, Participant]:
    age = AgeOnRecord()
    created = Participant.objects.bulk_create(
        [
            Participant(
                organization=ctx.organization,
                full_name=s.full_name,
                grade=s.grade,
                source_id=s.source_id,
                date_of_birth=(s.age or age).date_of_birth,
                birth_year=(s.age or age).birth_year,
                age_band=(s.age or age).age_band,
                email=s.email,
            )
            for s in plan.new_students
        ],
        batch_size=1000,
    )
    events += [
        build_audit_event(
            ctx, "participant.create", target=p, participant=p, source="roster import"
        )
        for p in created
    ]
    _save_changed(plan.changed_participants)
    events += [
        build_audit_event(
            ctx,
            "participant.update",
            target=p,
            participant=p,
            fields=sorted(f),
            source="roster import",
        )
        for p, f in plan.changed_participants.items()
    ]
    people = {p.source_id: p for p in plan.changed_participants}
    people.update({p.source_id: p for p in created})
    sourced = Participant.objects.filter(
        organization=ctx.organization, source_id__in=list(plan.memberships)
    )
    return {p.source_id: p for p in sourced} | people


def _write_memberships(
    plan: RosterPlan, people: dict[str, Participant], rooms: dict[str, Classroom]
) -> None:
    through = Participant.classrooms.through
    for person_id, room_id in plan.memberships_removed:
        through.objects.filter(participant_id=person_id, classroom_id=room_id).delete()
    wanted = [
        through(participant_id=people[s].pk, classroom_id=rooms[c].pk)
        for s, class_ids in plan.memberships.items()
        for c in class_ids
    ]
    through.objects.bulk_create(wanted, ignore_conflicts=True, batch_size=2000)


def _write_guardians(
    ctx: AuditContext, plan: RosterPlan, people: dict[str, Participant], events: list[AuditEvent]
) -> None:
    created = Guardian.objects.bulk_create(
        [
            Guardian(
                participant=people[s],
                source_id=g.source_id,
                name=g.name,
                relation=g.relation,
                email=g.email,
                phone=g.phone,
            )
            for s, g in plan.new_guardians
        ],
        batch_size=1000,
    )
    events += [
        build_audit_event(
            ctx, "guardian.create", target=g, participant=g.participant, source="roster import"
        )
        for g in created
    ]
    _save_changed(plan.changed_guardians)
    events += [
        build_audit_event(
            ctx,
            "guardian.update",
            target=g,
            participant=g.participant,
            fields=f,
            source="roster import",
        )
        for g, f in plan.changed_guardians.items()
    ]
