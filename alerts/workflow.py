"""What people do with alerts and rules: acknowledge, resolve, dismiss, reopen, rate, edit.

Every function checks that the actor may act on the alert (admins: their organization;
counselors: their caseload), writes an AlertEvent and an audit event, and raises
AlertWorkflowError with a plain-words reason for a transition that is not allowed.
NotYours means "not yours" (views answer 404).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.models import CLOSED_STATES, Alert, AlertEvent, AlertState, Rule
from alerts.notifications import (
    CONSENT_WITHDRAWN,
    cancel_pending_escalations,
    cancel_pending_for_participant,
)
from alerts.rules import check_rule_numbers
from alerts.series import consented_participant_ids
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Participant, Role, StaffMember
from wellbeing.refusals import NotYours, Refused


class AlertWorkflowError(Refused):
    """The requested change is not allowed in the alert's (or rule's) current state."""

    code = "alert_refused"


def ensure_can_act(staff: StaffMember, alert: Alert) -> None:
    """NotYours unless ``staff`` may see and change ``alert``."""
    if staff.organization_id != alert.organization_id:
        raise NotYours("That alert belongs to another school.")
    if staff.role == Role.ADMIN:
        return
    if staff.role == Role.COUNSELOR and alert.participant.caseload.filter(counselor=staff).exists():
        return
    raise NotYours("That student is not on your caseload.")


# Event kinds are past participles ("acknowledged"); refusals need the verb.
EVENT_VERBS = {
    "acknowledged": "acknowledge",
    "resolved": "resolve",
    "dismissed": "dismiss",
    "reopened": "reopen",
    "rated": "rate",
}


def _transition(
    ctx: AuditContext,
    staff: StaffMember,
    alert: Alert,
    kind: str,
    allowed_from: tuple[str, ...],
    note: str,
    **changes: Any,
) -> Alert:
    ensure_can_act(staff, alert)
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.state not in allowed_from:
            verb = EVENT_VERBS.get(kind, kind)
            raise AlertWorkflowError(
                f"Cannot {verb} an alert that is {locked.get_state_display().lower()}."
            )
        for name, value in changes.items():
            setattr(locked, name, value)
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError as exc:
            raise AlertWorkflowError(
                "Another alert of this rule is already open for this student; use that one."
            ) from exc
        AlertEvent.objects.create(
            alert=locked, kind=kind, actor=staff, note=note.strip(), created_at=timezone.now()
        )
        record_audit(
            ctx, f"alert.{kind}", target=locked, participant=locked.participant, state=locked.state
        )
    return locked


def acknowledge_alert(ctx: AuditContext, staff: StaffMember, alert: Alert, note: str = "") -> Alert:
    """open -> acknowledged (stops escalation)."""
    return _transition(
        ctx,
        staff,
        alert,
        "acknowledged",
        (AlertState.OPEN,),
        note,
        state=AlertState.ACKNOWLEDGED,
        acknowledged_at=timezone.now(),
        acknowledged_by=staff,
    )


def close_alert(
    ctx: AuditContext,
    staff: StaffMember,
    alert: Alert,
    state: str,
    note: str = "",
    useful: bool | None = None,
) -> Alert:
    """open/acknowledged -> resolved or dismissed, with optional usefulness feedback."""
    if state not in CLOSED_STATES:
        raise AlertWorkflowError("An alert is closed as resolved or dismissed.")
    changes: dict[str, Any] = {"state": state, "closed_at": timezone.now(), "closed_by": staff}
    if useful is not None:
        changes.update(useful=useful, useful_by=staff)
    kind = "resolved" if state == AlertState.RESOLVED else "dismissed"
    return _transition(
        ctx, staff, alert, kind, (AlertState.OPEN, AlertState.ACKNOWLEDGED), note, **changes
    )


def reopen_alert(ctx: AuditContext, staff: StaffMember, alert: Alert, note: str = "") -> Alert:
    """resolved/dismissed -> open. Refused when closed because consent was withdrawn."""
    if alert.closed_reason == CONSENT_WITHDRAWN:
        raise AlertWorkflowError("This alert was closed because consent was withdrawn.")
    # An alert closed by a counselor before a withdrawal must not come back either.
    if alert.participant_id not in consented_participant_ids(
        alert.organization, among=[alert.participant_id]
    ):
        raise AlertWorkflowError(
            "The student no longer has consent for emotion analysis; the alert stays closed."
        )
    if not note.strip():
        raise AlertWorkflowError("Say why the alert is reopened (a note is required).")
    with transaction.atomic():
        # Escalation restarts from the reopening at the first contact (alerts.escalation);
        # escalation e-mails of the earlier episode still held by quiet hours are dropped.
        reopened = _transition(
            ctx,
            staff,
            alert,
            "reopened",
            CLOSED_STATES,
            note,
            state=AlertState.OPEN,
            closed_at=None,
            closed_by=None,
            closed_reason="",
            acknowledged_at=None,
            acknowledged_by=None,
            escalation_level=0,
        )
        cancel_pending_escalations(reopened.pk, "cancelled: alert reopened, escalation restarts")
    return reopened


def rate_alert(
    ctx: AuditContext, staff: StaffMember, alert: Alert, useful: bool, note: str = ""
) -> Alert:
    """Record whether the alert was useful (any state; the latest answer counts)."""
    states = tuple(AlertState.values)
    return _transition(ctx, staff, alert, "rated", states, note, useful=useful, useful_by=staff)


ALERT_ACTIONS: tuple[str, ...] = ("acknowledge", "resolve", "dismiss", "reopen", "rate")


class UsefulnessMissing(AlertWorkflowError):
    """Rating an alert needs the answer to "was it useful?"."""


def apply_alert_action(
    ctx: AuditContext,
    staff: StaffMember,
    alert: Alert,
    action: str,
    note: str = "",
    useful: bool | None = None,
) -> Alert:
    """Do one of ALERT_ACTIONS to ``alert`` as ``staff``; the pages and the API both call this.

    ``useful`` is optional feedback when resolving or dismissing, and required to ``rate``
    (UsefulnessMissing otherwise). Returns the changed alert. Raises AlertWorkflowError for an
    unknown action or a transition the alert's state does not allow, NotYours for an alert the
    staff member may not act on.
    """
    if action == "acknowledge":
        return acknowledge_alert(ctx, staff, alert, note)
    if action in ("resolve", "dismiss"):
        state = AlertState.RESOLVED if action == "resolve" else AlertState.DISMISSED
        return close_alert(ctx, staff, alert, state, note, useful)
    if action == "reopen":
        return reopen_alert(ctx, staff, alert, note)
    if action != "rate":
        raise AlertWorkflowError(f"Unknown alert action {action!r}.")
    if useful is None:
        raise UsefulnessMissing("Choose whether the alert was useful.")
    return rate_alert(ctx, staff, alert, useful, note)


def close_alerts_for_withdrawn_consent(participant: Participant) -> int:
    """Close the participant's active alerts and cancel their pending e-mails (system action)."""
    now = timezone.now()
    with transaction.atomic():
        active = list(
            Alert.objects.select_for_update()
            .filter(participant=participant)
            .exclude(state__in=CLOSED_STATES)
        )
        for alert in active:
            alert.state = AlertState.RESOLVED
            alert.closed_at = now
            alert.closed_reason = CONSENT_WITHDRAWN
            alert.save(update_fields=["state", "closed_at", "closed_reason"])
            AlertEvent.objects.create(
                alert=alert,
                kind="closed",
                note="Closed automatically: consent for emotion analysis was withdrawn.",
                created_at=now,
            )
        cancelled = cancel_pending_for_participant(participant.pk, "consent withdrawn")
        if active or cancelled:
            record_audit(
                AuditContext.system(participant.organization, "alerts"),
                "alert.close_on_withdrawal",
                participant=participant,
                alerts=[a.pk for a in active],
                cancelled_emails=cancelled,
            )
    return len(active)


EDITABLE_RULE_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "signal",
    "emotion",
    "window",
    "threshold",
    "clear_threshold",
    "baseline_weeks",
    "baseline_margin",
    "class_margin",
    "min_minutes",
    "persistence_m",
    "persistence_d",
    "clear_after_days",
    "cooldown_days",
    "severity",
    "mode",
)
EMAIL_PREFERENCES: tuple[str, ...] = ("immediate", "digest", "none")


def set_email_preference(ctx: AuditContext, staff: StaffMember, preference: str) -> StaffMember:
    """A counselor's (or admin's) own choice: immediate e-mails, the daily digest, or none."""
    if preference not in EMAIL_PREFERENCES:
        raise AlertWorkflowError(f"Choose one of: {', '.join(EMAIL_PREFERENCES)}.")
    before = staff.email_preference
    staff.email_preference = preference
    staff.save(update_fields=["email_preference"])
    record_audit(ctx, "alert.email_preference", target=staff, before=before, after=preference)
    return staff


def update_rule(ctx: AuditContext, rule: Rule, **changes: Any) -> Rule:
    """Save ``changes`` as a new version of the rule (the old version stays for evidence).

    Raises AlertWorkflowError for unknown fields, an old version, or inconsistent numbers.
    """
    unknown = set(changes) - set(EDITABLE_RULE_FIELDS)
    if unknown:
        raise AlertWorkflowError(
            f"These rule fields cannot be changed: {', '.join(sorted(unknown))}."
        )
    if rule.organization_id != ctx.organization.pk:
        raise NotYours("That rule belongs to another school.")
    with transaction.atomic():
        current = Rule.objects.select_for_update().get(pk=rule.pk)
        if not current.is_current:
            raise AlertWorkflowError("Only the current version of a rule can be edited.")
        values = {name: getattr(current, name) for name in EDITABLE_RULE_FIELDS}
        values.update(changes)
        new = Rule(organization=current.organization, slug=current.slug, **values)
        check_rule(new)
        current.is_current = False
        current.save(update_fields=["is_current"])
        new.version = current.version + 1
        new.created_by = ctx.actor if getattr(ctx.actor, "is_authenticated", False) else None
        new.save()
        record_audit(ctx, "rule.update", target=new, slug=new.slug, fields=sorted(changes))
    return new


def create_rule(ctx: AuditContext, slug: str, **fields: Any) -> Rule:
    """A new rule family in the actor's organization (version 1)."""
    unknown = set(fields) - set(EDITABLE_RULE_FIELDS)
    if unknown:
        raise AlertWorkflowError(f"Unknown rule fields: {', '.join(sorted(unknown))}.")
    if Rule.objects.filter(organization=ctx.organization, slug=slug).exists():
        raise AlertWorkflowError(f"A rule named {slug!r} exists already; edit it instead.")
    rule = Rule(organization=ctx.organization, slug=slug, **fields)
    check_rule(rule)
    rule.save()
    record_audit(ctx, "rule.create", target=rule, slug=slug)
    return rule


def check_rule(rule: Rule) -> None:
    try:
        check_rule_numbers(rule)
    except ValueError as exc:
        raise AlertWorkflowError(str(exc)) from exc


def alert_age(alert: Alert, now: dt.datetime | None = None) -> dt.timedelta:
    return (now or timezone.now()) - alert.raised_at
