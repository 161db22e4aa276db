"""Changing a school's age-aware consent rules, or what it knows of a student's age, after a
review of whose consent that ends or starts.

Whether a student's own grant counts depends on the school's rules and the student's age
(consent.age_rules), so a change of either re-evaluates existing consents: a student whose
only grant is their own may lose a scope (a higher consent age, a guardian now required for the
face template, a date of birth showing they are younger than assumed) or gain one. A loss has
exactly the effects of a withdrawal (consent.actions.apply_consent_loss: templates destroyed,
stored numbers deleted or de-identified, alerts closed), so, as for publishing a notice
(consent.notice_publication), the change is first reviewed and then confirmed for that review:
the confirmation carries the review's ``token`` (a digest of who loses and gains what), and the
change is refused, changing nothing, when the token no longer matches the consequences as they
are under the participants' locks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Prefetch

from consent.actions import apply_consent_loss, ensure_same_organization, lock_participants
from consent.age_rules import (
    AGE_BAND_LOWEST,
    MAX_STUDENT_CONSENT_AGE,
    MIN_STUDENT_CONSENT_AGE,
    PRESETS,
    AgeRules,
    rules_of,
    student_age,
)
from consent.models import ALL_SCOPES, ConsentRecord, FaceTemplate, Scope
from consent.notice_publication import figures_of_other_apps
from consent.rules import ConsentSubject, SchoolContext, decide_consent
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Organization, Participant
from wellbeing.refusals import Refused

AGE_FIELDS_SET = ("date_of_birth", "birth_year", "age_band")
OLDEST_PLAUSIBLE_AGE = 30  # a school's student; older dates are typing mistakes


class ConsentRulesRefused(Refused):
    """The rules or the age given are not valid; nothing changed."""

    code = "consent_rules_refused"


class ChangeNotConfirmed(Refused):
    """Nothing changed: no confirmation, or one for a review that is out of date (``stale``).
    ``effects`` says what the change would do now; the API adds it as ``consequences``."""

    code = "confirmation_required"

    def __init__(self, effects: ConsentChangeEffects, *, stale: bool = False) -> None:
        self.effects = effects
        self.stale = stale
        changed = "Whose consent changes is not what was reviewed; nothing changed. "
        super().__init__((changed if stale else "") + effects.summary())

    def extra_fields(self) -> dict[str, Any]:
        return {"consequences": self.effects.as_dict()}


@dataclass(frozen=True)
class ParticipantChange:
    """One participant whose active scopes change, and why the lost ones are lost."""

    participant_id: int
    pseudonym: str
    full_name: str
    lost: tuple[str, ...]
    gained: tuple[str, ...]
    reasons: dict[str, str]


@dataclass(frozen=True)
class ConsentChangeEffects:
    """What a change of rules or of an age would do now (counted, nothing changed)."""

    what: str
    participants: int
    changes: tuple[ParticipantChange, ...]
    templates: int = 0
    figures: dict[str, int] = field(default_factory=dict)
    withdrawal_policy: str = "delete"

    @property
    def losing(self) -> tuple[ParticipantChange, ...]:
        return tuple(c for c in self.changes if c.lost)

    @property
    def gaining(self) -> tuple[ParticipantChange, ...]:
        return tuple(c for c in self.changes if c.gained)

    @property
    def token(self) -> str:
        """A digest of the change and exactly whose scopes it ends or starts."""
        parts = [self.what, *(f"{c.participant_id}-{c.lost}-{c.gained}" for c in self.changes)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "participants": self.participants,
            "losing": len(self.losing),
            "gaining": len(self.gaining),
            "changes": [
                {
                    "participant": c.participant_id,
                    "pseudonym": c.pseudonym,
                    "lost": list(c.lost),
                    "gained": list(c.gained),
                    "reasons": c.reasons,
                }
                for c in self.changes
            ],
            "templates": self.templates,
            **self.figures,
            "withdrawal_policy": self.withdrawal_policy,
            "token": self.token,
        }

    def summary(self) -> str:
        """The confirmation text: plain words, every figure."""
        if not self.changes:
            return f"{self.what}: no participant's consent changes."
        words = [f"{self.what}:"]
        if self.losing:
            words.append(
                f"{len(self.losing)} of {self.participants} participants lose a scope, with the "
                f"effects of a withdrawal: {self.templates} face templates destroyed, "
                f"{self.figures.get('observations', 0)} per-frame readings, "
                f"{self.figures.get('minute_aggregates', 0)} per-minute, "
                f"{self.figures.get('session_totals', 0)} per-lesson and "
                f"{self.figures.get('daily_rollups', 0)} per-day figures and "
                f"{self.figures.get('presence_tallies', 0)} 'present, not assessable' tallies "
                f"{'de-identified or ' if self.withdrawal_policy == 'deidentify' else ''}deleted, "
                f"{self.figures.get('alerts_closed', 0)} alerts closed. This cannot be undone."
            )
        if self.gaining:
            words.append(
                f"{len(self.gaining)} participants gain a scope: their own grant now counts."
            )
        return " ".join(words)


def _participants(organization: Organization, only: Sequence[int] | None) -> list[Participant]:
    people = Participant.objects.filter(organization=organization).order_by("pk")
    if only is not None:
        people = people.filter(pk__in=list(only))
    return list(
        people.prefetch_related(Prefetch("consent_records", ConsentRecord.objects.in_force()))
    )


def _effects(
    what: str,
    organization: Organization,
    people: list[Participant],
    subject_after: Callable[[Participant], ConsentSubject],
) -> ConsentChangeEffects:
    """Decide each participant under the rules and ages in force and under ``subject_after``."""
    school = SchoolContext.load(organization)
    changes = []
    for person in people:
        records = person.consent_records.all()
        before = school.decide(person, records, ALL_SCOPES).active_scopes
        after = decide_consent(records, school.notice, ALL_SCOPES, subject_after(person))
        lost, gained = before - after.active_scopes, after.active_scopes - before
        if lost or gained:
            reasons = {s: after.reasons[s] for s in lost}
            changes.append(
                ParticipantChange(
                    person.pk,
                    person.pseudonym,
                    person.full_name,
                    tuple(sorted(lost)),
                    tuple(sorted(gained)),
                    reasons,
                )
            )
    series = [c.participant_id for c in changes if Scope.EMOTION_ANALYSIS in c.lost]
    templated = [c.participant_id for c in changes if Scope.FACE_TEMPLATE in c.lost]
    return ConsentChangeEffects(
        what=what,
        participants=len(people),
        changes=tuple(changes),
        templates=FaceTemplate.objects.filter(participant_id__in=templated).count(),
        figures=figures_of_other_apps(organization, series) if series else {},
        withdrawal_policy=organization.withdrawal_policy,
    )


def describe_rules(rules: AgeRules) -> str:
    """The rules in words: "UK rules: a student's own grant from 13; a guardian's grant for a
    minor's face template"."""
    own = "at any age" if rules.student_consent_age == 0 else f"from {rules.student_consent_age}"
    bio = (
        "a guardian's grant for a minor's face template"
        if rules.guardian_for_biometrics
        else ("no extra guardian requirement for the face template")
    )
    return f"{rules.label}: a student's own grant {own}; {bio}"


def validate_rules(
    preset: str, student_consent_age: int, guardian_for_biometrics: bool
) -> AgeRules:
    """The rules asked for, or ConsentRulesRefused saying what is wrong."""
    if preset not in PRESETS:
        raise ConsentRulesRefused(f"Choose one of the presets: {', '.join(PRESETS)}.")
    if not MIN_STUDENT_CONSENT_AGE <= student_consent_age <= MAX_STUDENT_CONSENT_AGE:
        raise ConsentRulesRefused(
            f"The age from which a student's own grant suffices must be between "
            f"{MIN_STUDENT_CONSENT_AGE} (the lowest GDPR Art. 8 and COPPA allow) and "
            f"{MAX_STUDENT_CONSENT_AGE} (adulthood)."
        )
    return AgeRules(preset, student_consent_age, bool(guardian_for_biometrics))


def rules_change_effects(organization: Organization, rules: AgeRules) -> ConsentChangeEffects:
    """Who gains or loses which scope if ``organization`` adopted ``rules`` now."""
    today = organization.local_today()
    what = f"From {describe_rules(rules_of(organization))} to {describe_rules(rules)}"
    people = _participants(organization, None)
    return _effects(
        what, organization, people, lambda p: ConsentSubject(student_age(p, today), rules)
    )


def change_consent_rules(
    ctx: AuditContext, rules: AgeRules, *, confirm: bool, reviewed: str | None
) -> ConsentChangeEffects:
    """Adopt ``rules`` (see validate_rules) for the actor's school, only when ``confirm`` is given
    for the review as it still is (``reviewed`` is its token). Losses take effect at once, with
    the effects of a withdrawal; everything is audited. Raises ChangeNotConfirmed otherwise."""
    validate_rules(rules.preset, rules.student_consent_age, rules.guardian_for_biometrics)
    effects = rules_change_effects(ctx.organization, rules)
    if not confirm:
        raise ChangeNotConfirmed(effects)
    with transaction.atomic():
        school = Organization.objects.select_for_update().get(pk=ctx.organization.pk)
        lock_participants(list(school.participants.all()))
        effects = rules_change_effects(school, rules)  # again, under the locks
        if reviewed != effects.token:
            raise ChangeNotConfirmed(effects, stale=True)
        before = rules_of(school)
        school.consent_rules_preset = rules.preset
        school.student_consent_age = rules.student_consent_age
        school.guardian_consent_for_biometrics = rules.guardian_for_biometrics
        school.save(update_fields=_RULE_FIELDS)
        for name in _RULE_FIELDS:  # the caller's copy of the school reads the new rules too
            setattr(ctx.organization, name, getattr(school, name))
        record_audit(
            ctx,
            "consent_rules.change",
            target=school,
            before=_rules_dict(before),
            after=_rules_dict(rules),
            losing=len(effects.losing),
            gaining=len(effects.gaining),
        )
        _apply_changes(ctx, effects, reason="consent rules changed")
    return effects


_RULE_FIELDS = ["consent_rules_preset", "student_consent_age", "guardian_consent_for_biometrics"]


def _rules_dict(rules: AgeRules) -> dict[str, Any]:
    return {
        "preset": rules.preset,
        "student_consent_age": rules.student_consent_age,
        "guardian_for_biometrics": rules.guardian_for_biometrics,
    }


def _apply_changes(ctx: AuditContext, effects: ConsentChangeEffects, reason: str) -> None:
    """Audit each participant's change and bring about each loss."""
    people = Participant.objects.in_bulk([c.participant_id for c in effects.changes])
    for change in effects.changes:
        person = people[change.participant_id]
        record_audit(
            ctx,
            "consent.reevaluate",
            participant=person,
            lost=list(change.lost),
            gained=list(change.gained),
            reasons=change.reasons,
            cause=reason,
        )
        apply_consent_loss(ctx, person, set(change.lost), reason=reason)


@dataclass(frozen=True)
class AgeOnRecord:
    """What the school knows of a student's age (any may be empty)."""

    date_of_birth: dt.date | None = None
    birth_year: int | None = None
    age_band: str = ""

    def apply_to(self, participant: Participant) -> None:
        participant.date_of_birth = self.date_of_birth
        participant.birth_year = self.birth_year
        participant.age_band = self.age_band


def validate_age(age: AgeOnRecord, today: dt.date) -> None:
    """ConsentRulesRefused for a date or year in the future or implausibly long ago, a year
    that contradicts the date, or an unknown band."""
    earliest_year = today.year - OLDEST_PLAUSIBLE_AGE
    if age.date_of_birth is not None and not (
        dt.date(earliest_year, 1, 1) <= age.date_of_birth <= today
    ):
        raise ConsentRulesRefused(
            f"The date of birth must be between {earliest_year}-01-01 and today ({today})."
        )
    if age.birth_year is not None and not earliest_year <= age.birth_year <= today.year:
        raise ConsentRulesRefused(
            f"The year of birth must be between {earliest_year} and {today.year}."
        )
    if age.date_of_birth and age.birth_year and age.date_of_birth.year != age.birth_year:
        raise ConsentRulesRefused("The year of birth does not match the date of birth.")
    if age.age_band and age.age_band not in AGE_BAND_LOWEST:
        raise ConsentRulesRefused(f"Choose an age band from {', '.join(AGE_BAND_LOWEST)}.")


def age_change_effects(participant: Participant, age: AgeOnRecord) -> ConsentChangeEffects:
    """What recording ``age`` for the participant would change (nothing changed)."""
    organization = participant.organization
    rules, today = rules_of(organization), organization.local_today()

    def after(person: Participant) -> ConsentSubject:
        probe = Participant(pk=person.pk)
        age.apply_to(probe)
        return ConsentSubject(student_age(probe, today), rules)

    what = f"Recording the age of {participant.pseudonym} ({after(participant).age.known_as})"
    return _effects(what, organization, _participants(organization, [participant.pk]), after)


def set_participant_age(
    ctx: AuditContext,
    participant: Participant,
    age: AgeOnRecord,
    *,
    confirm: bool = False,
    reviewed: str | None = None,
) -> ConsentChangeEffects:
    """Record what the school knows of the participant's age (replacing all three fields).

    When that ends a scope (their own grant no longer suffices), the change needs ``confirm`` and
    the review's token, like a change of rules; a gain or no change applies at once. Audited
    with the names of the fields (the values stay out of the trail, which outlives erasure).
    """
    ensure_same_organization(ctx, participant)
    validate_age(age, participant.organization.local_today())
    effects = age_change_effects(participant, age)
    if effects.losing and not confirm:
        raise ChangeNotConfirmed(effects)
    with transaction.atomic():
        lock_participants([participant])
        fresh = age_change_effects(participant, age)
        if fresh.losing and reviewed != fresh.token:
            raise ChangeNotConfirmed(fresh, stale=True)
        age.apply_to(participant)
        participant.save(update_fields=list(AGE_FIELDS_SET))
        known = [name for name in AGE_FIELDS_SET if getattr(participant, name)]
        record_audit(
            ctx,
            "participant.age_update",
            target=participant,
            participant=participant,
            known=known,
            losing=len(fresh.losing),
            gaining=len(fresh.gaining),
        )
        _apply_changes(ctx, fresh, reason="age recorded")
    return fresh
