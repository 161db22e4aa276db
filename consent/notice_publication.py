"""What publishing a new consent notice version does to stored data, stated before it is done.

Grants count only under the current notice version (consent.rules), so a new version ends every
active consent at once. Each participant who had an active scope gets exactly the effects of a
withdrawal (consent.actions.apply_consent_loss and its receivers), in the publishing transaction:
processing stops, face templates are destroyed, the person's stored numbers are deleted (or,
under the school's ``deidentify`` policy, their day totals pooled and every individual row
deleted), active alerts are closed and pending e-mails cancelled. That follows the first
principle (nothing about a person is stored unless an active consent covers it), and none of it
can be undone, so the pages and the API show these figures and publish only when the person
confirms the figures as they still are: the confirmation carries the number of lapsing consents
they reviewed, and :func:`publish_confirmed_notice` refuses when that number is out of date.

The stored numbers and the alerts belong to apps above consent (capture, alerts); consent does
not import them but asks them through the ``publication_effects_counted`` signal
(consent.signals), and each answers with its own figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, cast

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Prefetch

from consent.actions import LapsesChanged, publish_notice
from consent.models import ALL_SCOPES, ConsentNotice, ConsentRecord, FaceTemplate, Scope
from consent.rules import SchoolContext
from consent.signals import publication_effects_counted
from wellbeing.actions import AuditContext
from wellbeing.models import Organization, Participant
from wellbeing.refusals import Refused


class PublicationNotConfirmed(Refused):
    """Nothing was published: no confirmation, or one for figures that have changed since the
    review (``stale``). ``effects`` says what publishing would do now; the API adds them to
    its 400 answer as ``consequences``."""

    code = "confirmation_required"

    def __init__(self, effects: PublicationEffects, *, reviewed_lapses: int | None = None) -> None:
        self.effects = effects
        self.stale = reviewed_lapses is not None
        changed = (
            f"The figures changed since the review: {effects.consents_lapsing} consents would "
            f"lapse now, not {reviewed_lapses}; nothing was published. "
        )
        super().__init__((changed if self.stale else "") + effects.summary())

    def extra_fields(self) -> dict[str, Any]:
        return {"consequences": self.effects.as_dict()}


@dataclass(frozen=True)
class PublicationEffects:
    """The consequences of publishing the next notice version now (counts, nothing changed)."""

    next_version: int
    participants: int
    consents_lapsing: int
    series_deleted_for: int
    observations: int
    minute_aggregates: int
    session_totals: int
    daily_rollups: int
    presence_tallies: int
    withdrawal_policy: str
    templates_destroyed_for: int
    templates: int
    alerts_closed: int
    daily_rollup_days: int

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)

    def summary(self) -> str:
        """The confirmation text: plain words, every figure, what is kept."""
        if not self.consents_lapsing:
            return (
                f"Publishing version {self.next_version}: no participant has active consent, "
                "so no consent lapses and no stored data is deleted."
            )
        return " ".join(
            [
                f"Publishing version {self.next_version} ends every consent given under earlier "
                f"versions: {self.consents_lapsing} of {self.participants} participants lose "
                "their active consent and are not analysed until consent is recorded again.",
                "At once, when you publish:",
                self._series_sentence(),
                f"{self.templates} face templates of {self.templates_destroyed_for} participants "
                "are destroyed;",
                f"{self.alerts_closed} open or acknowledged alerts are closed and their pending "
                "e-mails cancelled.",
                "This cannot be undone. Participants, guardians, consent history and the audit "
                "trail are kept.",
            ]
        )

    def _series_sentence(self) -> str:
        figures = (
            f"{self.observations} per-frame readings, {self.minute_aggregates} per-minute, "
            f"{self.session_totals} per-lesson and {self.daily_rollups} per-day figures, and "
            f"{self.presence_tallies} 'present, not assessable' tallies"
        )
        if self.withdrawal_policy == "deidentify":
            return (
                f"the stored numbers of {self.series_deleted_for} participants ({figures}) are "
                "deleted, after their day totals are pooled into de-identified grade totals "
                f"(kept {self.daily_rollup_days} days);"
            )
        return (
            f"the stored numbers of {self.series_deleted_for} participants ({figures}) are deleted;"
        )


def publication_effects(organization: Organization) -> PublicationEffects:
    """Count what publishing the next version would end, destroy, delete and close."""
    school = SchoolContext.load(organization)
    notice = school.notice
    participants = Participant.objects.filter(organization=organization).prefetch_related(
        Prefetch("consent_records", ConsentRecord.objects.in_force())
    )
    active = {
        p.pk: school.decide(p, p.consent_records.all(), ALL_SCOPES).active_scopes
        for p in participants
    }
    series = [pk for pk, scopes in active.items() if Scope.EMOTION_ANALYSIS in scopes]
    templated = [pk for pk, scopes in active.items() if Scope.FACE_TEMPLATE in scopes]
    return PublicationEffects(
        next_version=(notice.version if notice else 0) + 1,
        participants=len(active),
        consents_lapsing=sum(1 for scopes in active.values() if scopes),
        series_deleted_for=len(series),
        withdrawal_policy=organization.withdrawal_policy,
        templates_destroyed_for=len(templated),
        templates=FaceTemplate.objects.filter(participant_id__in=templated).count(),
        daily_rollup_days=organization.daily_rollup_days,
        **figures_of_other_apps(organization, series),
    )


# The figures capture (stored numbers) and alerts (open alerts) count for consent.
OTHER_APPS_FIGURES = frozenset(
    {
        "observations",
        "minute_aggregates",
        "session_totals",
        "daily_rollups",
        "presence_tallies",
        "alerts_closed",
    }
)


def figures_of_other_apps(organization: Organization, series: list[int]) -> dict[str, int]:
    """Ask the apps that own the stored numbers and alerts what a lapse of ``series`` (the
    participants losing emotion analysis) would delete or close. Raises ImproperlyConfigured
    when a figure has no answer: a confirmation that leaves out a deletion is no confirmation."""
    figures: dict[str, int] = {}
    answers = publication_effects_counted.send(
        sender=ConsentNotice, organization=organization, participant_ids=series
    )
    for _receiver, answer in answers:
        # Signal.send is typed for string answers; these receivers answer with figures.
        figures.update(cast("dict[str, int]", answer))
    missing = OTHER_APPS_FIGURES - figures.keys()
    if missing:
        raise ImproperlyConfigured(f"No app counted {', '.join(sorted(missing))}.")
    return {name: figures[name] for name in OTHER_APPS_FIGURES}


def publish_confirmed_notice(
    ctx: AuditContext, title: str, text: str, *, confirm: bool, reviewed_lapses: int | None
) -> tuple[ConsentNotice, PublicationEffects]:
    """Publish the next version only when ``confirm`` is given for the figures as they are:
    ``reviewed_lapses`` must be the number of lapsing consents the person was shown. Returns the
    notice and the effects it had. Otherwise raises PublicationNotConfirmed carrying the current
    effects (``stale`` when confirmed for other figures), having changed nothing."""
    effects = publication_effects(ctx.organization)
    if not confirm:
        raise PublicationNotConfirmed(effects)
    if reviewed_lapses != effects.consents_lapsing:
        raise PublicationNotConfirmed(effects, reviewed_lapses=reviewed_lapses)
    try:
        notice = publish_notice(ctx, title, text, confirmed=True, expected_lapses=reviewed_lapses)
    except LapsesChanged as exc:  # a consent was recorded or withdrawn since the count above
        fresh = publication_effects(ctx.organization)
        raise PublicationNotConfirmed(fresh, reviewed_lapses=reviewed_lapses) from exc
    return notice, effects
