"""Age-aware consent rules: the presets each school chooses from, with their sources, and what
a student's age means for whose grant counts.

A school's rules (:class:`AgeRules`) say two things, both editable by the school:

* ``student_consent_age``: from this age a student's own grant suffices; below it (or when the
  age is not known) a guardian's grant is required. 0 means at any age.
* ``guardian_for_biometrics``: a guardian's grant is required for the face template (a biometric
  template) of every minor, whatever ``student_consent_age`` says. A student known to be 18 or
  older is an adult and decides alone.

One rule is not editable and is not here: a refusal by the student or by any guardian always
wins, at any age (consent.rules). A guardian's grant counts at every age, as before.

Ages are legal ages in whole years, computed on the school's own calendar day
(``Organization.local_today``). Where only a year of birth or an age band is known, the lowest
age the student can be is used; an unknown age is below every consent age. Both only err towards
asking a guardian, and stay true as the student grows older.

The presets are the law as summarised in docs/privacy.md (engineering documentation, not legal
advice; a school confirms its ages with its data protection officer and can edit them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from consent.models import Scope
from wellbeing.models import AgeBand, Jurisdiction, Organization, Participant

ADULT_AGE = 18
# The editable range of ``student_consent_age``: GDPR Art. 8(1) lets no member state go below
# 13 (COPPA's line too), and from 18 a student is an adult everywhere these presets cover.
MIN_STUDENT_CONSENT_AGE = 13
MAX_STUDENT_CONSENT_AGE = ADULT_AGE
LEGACY = "legacy"
# The participant columns student_age reads (for ``QuerySet.only``).
AGE_FIELDS = ("id", "date_of_birth", "birth_year", "age_band")
# The lowest age each school-provided band guarantees (its upper end is never relied on).
AGE_BAND_LOWEST: dict[str, int] = {
    AgeBand.UNDER_13: 0,
    AgeBand.FROM_13_TO_15: 13,
    AgeBand.FROM_16_TO_17: 16,
    AgeBand.ADULT: 18,
}


@dataclass(frozen=True)
class Preset:
    """One jurisdiction's rules as published law sets them, with the source to check."""

    key: str
    label: str
    student_consent_age: int
    guardian_for_biometrics: bool
    source: str


def _eu(code: str, country: str, age: int, source: str) -> Preset:
    return Preset(
        key=f"eu-{code}",
        label=f"{country} (EU)",
        student_consent_age=age,
        # GDPR Art. 9(2)(a) asks explicit consent for biometric data and sets no age of its
        # own; the presets read it conservatively: a guardian's grant for every minor.
        guardian_for_biometrics=True,
        source=f"GDPR Art. 8(1) and 9(2)(a); {source}",
    )


_GDPR_DEFAULT = "no national derogation: the GDPR default of 16"
EU_PRESETS: tuple[Preset, ...] = (
    _eu("at", "Austria", 14, "Datenschutzgesetz § 4(4)"),
    _eu("be", "Belgium", 13, "Law of 30 July 2018, Art. 7"),
    _eu("bg", "Bulgaria", 14, "Personal Data Protection Act, Art. 25c"),
    _eu("hr", "Croatia", 16, "Act on the Implementation of the GDPR (NN 42/2018), Art. 19"),
    _eu("cy", "Cyprus", 14, "Law 125(I)/2018, Art. 8"),
    _eu("cz", "Czechia", 15, "Act No. 110/2019 Coll., § 7"),
    _eu("dk", "Denmark", 13, "Databeskyttelsesloven § 6(2)"),
    _eu("ee", "Estonia", 13, "Isikuandmete kaitse seadus § 8"),
    _eu("fi", "Finland", 13, "Tietosuojalaki 1050/2018, § 5"),
    _eu("fr", "France", 15, "Loi Informatique et Libertés, Art. 45"),
    _eu("de", "Germany", 16, _GDPR_DEFAULT),
    _eu("gr", "Greece", 15, "Law 4624/2019, Art. 21"),
    _eu("hu", "Hungary", 16, _GDPR_DEFAULT),
    _eu("ie", "Ireland", 16, "Data Protection Act 2018, s. 31"),
    _eu("it", "Italy", 14, "Codice in materia di protezione dei dati personali, Art. 2-quinquies"),
    _eu("lv", "Latvia", 13, "Personal Data Processing Law, s. 33"),
    _eu("lt", "Lithuania", 14, "Law on Legal Protection of Personal Data, Art. 6"),
    _eu("lu", "Luxembourg", 16, _GDPR_DEFAULT),
    _eu("mt", "Malta", 13, "Data Protection Act (Cap. 586), S.L. 586.11"),
    _eu("nl", "Netherlands", 16, "Uitvoeringswet AVG, Art. 5"),
    _eu("pl", "Poland", 16, _GDPR_DEFAULT),
    _eu("pt", "Portugal", 13, "Lei n.º 58/2019, Art. 16"),
    _eu("ro", "Romania", 16, _GDPR_DEFAULT),
    _eu("sk", "Slovakia", 16, "Act No. 18/2018 Coll., § 15"),
    _eu("si", "Slovenia", 15, "ZVOP-2 (2022), Art. 8"),
    _eu("es", "Spain", 14, "Ley Orgánica 3/2018 (LOPDGDD), Art. 7"),
    _eu("se", "Sweden", 13, "Lag (2018:218) ch. 2 § 4"),
)
UK_PRESET = Preset(
    key="uk",
    label="UK",
    student_consent_age=13,
    guardian_for_biometrics=True,
    source="UK GDPR Art. 8 and Data Protection Act 2018 s. 9 (13); Protection of Freedoms Act "
    "2012 s. 26-27 (a parent's written consent before a school processes a child's biometric "
    "information; the child's refusal or objection overrides it)",
)
US_COPPA_PRESET = Preset(
    key="us-coppa",
    label="US COPPA",
    student_consent_age=13,
    guardian_for_biometrics=False,
    source="COPPA, 15 U.S.C. § 6501-6506 and 16 CFR 312.5 (verifiable parental consent for a "
    "child under 13); no federal rule for biometrics from 13",
)
US_IL_BIPA_PRESET = Preset(
    key="us-il-bipa",
    label="Illinois BIPA",
    student_consent_age=13,
    guardian_for_biometrics=True,
    source="BIPA, 740 ILCS 14/15(b) (a written release by the subject or their legally "
    "authorized representative, which for a minor is the parent or guardian) and 14/10; "
    "COPPA (under 13) for the rest",
)
GUARDIAN_ALWAYS_PRESET = Preset(
    key="guardian-always",
    label="Guardian for every minor",
    student_consent_age=ADULT_AGE,
    guardian_for_biometrics=True,
    source="no statute: the most conservative choice, the default where no preset applies",
)
LEGACY_PRESET = Preset(
    key=LEGACY,
    label="legacy",
    student_consent_age=0,
    guardian_for_biometrics=False,
    source="the rules before age-aware consent (a student's own grant at any age); kept by the "
    "migration for existing schools so no processing changed, until the school chooses",
)
# Every preset a school may choose, in the order the pages list them (legacy is not offered).
PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (UK_PRESET, US_COPPA_PRESET, US_IL_BIPA_PRESET, *EU_PRESETS, GUARDIAN_ALWAYS_PRESET)
}
_DEFAULT_FOR_JURISDICTION: dict[str, Preset] = {
    # An EU school that has not named its member state gets the GDPR default of 16.
    Jurisdiction.EU: PRESETS["eu-de"],
    Jurisdiction.UK: UK_PRESET,
    Jurisdiction.US_IL: US_IL_BIPA_PRESET,
    Jurisdiction.US: US_COPPA_PRESET,
    Jurisdiction.OTHER: GUARDIAN_ALWAYS_PRESET,
}


def preset_named(key: str) -> Preset:
    """The preset of that key (legacy included); KeyError for an unknown key."""
    return LEGACY_PRESET if key == LEGACY else PRESETS[key]


def default_preset(jurisdiction: str) -> Preset:
    """The preset a new school of this jurisdiction starts with."""
    return _DEFAULT_FOR_JURISDICTION.get(jurisdiction, GUARDIAN_ALWAYS_PRESET)


@dataclass(frozen=True)
class AgeRules:
    """A school's rules in force: a preset, as the school may have edited it."""

    preset: str
    student_consent_age: int
    guardian_for_biometrics: bool

    @classmethod
    def from_preset(cls, preset: Preset) -> AgeRules:
        return cls(preset.key, preset.student_consent_age, preset.guardian_for_biometrics)

    @property
    def edited(self) -> bool:
        return self != AgeRules.from_preset(preset_named(self.preset))

    @property
    def label(self) -> str:
        """How reasons name the rules: "UK rules", "Spain (EU) rules (edited)"."""
        edited = " (edited)" if self.edited else ""
        return f"{preset_named(self.preset).label} rules{edited}"


def rules_of(organization: Organization) -> AgeRules:
    """The organization's rules in force (no query): its stored choice, else its jurisdiction's
    default preset."""
    key = organization.consent_rules_preset
    if not key:
        return AgeRules.from_preset(default_preset(organization.jurisdiction))
    preset = preset_named(key)
    age = organization.student_consent_age
    biometrics = organization.guardian_consent_for_biometrics
    return AgeRules(
        key,
        preset.student_consent_age if age is None else age,
        preset.guardian_for_biometrics if biometrics is None else biometrics,
    )


@dataclass(frozen=True)
class StudentAge:
    """What is known of a student's age on one day: the lowest age they can be, or None."""

    lowest: int | None
    known_as: str  # "11", "12 or 13 (born 2013)", "in the 13-15 age band", "unknown"

    def at_least(self, age: int) -> bool:
        """True only when the student is certainly ``age`` or older (always for 0)."""
        return age == 0 or (self.lowest is not None and self.lowest >= age)


UNKNOWN_AGE = StudentAge(None, "unknown")


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    """Completed years on ``day``; a 29 February birthday falls on 1 March in other years."""
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def student_age(participant: Participant, today: dt.date) -> StudentAge:
    """The participant's age on the school's ``today``, from the most precise thing on record
    (date of birth, else year of birth, else age band). Reads only the participant's row."""
    if participant.date_of_birth is not None:
        age = age_on(participant.date_of_birth, today)
        return StudentAge(age, str(age))
    if participant.birth_year is not None:
        older = today.year - participant.birth_year
        # Only on 31 December has everyone born that year had their birthday.
        lowest = older if (today.month, today.day) == (12, 31) else older - 1
        known = str(older) if lowest == older else f"{lowest} or {older}"
        return StudentAge(lowest, f"{known} (born {participant.birth_year})")
    if participant.age_band:
        return StudentAge(
            AGE_BAND_LOWEST[participant.age_band], f"in the {participant.age_band} age band"
        )
    return UNKNOWN_AGE


def own_grant_refusal(rules: AgeRules, age: StudentAge, scope: str) -> str | None:
    """Why a student's own grant of ``scope`` does not suffice under ``rules`` at ``age`` (a
    guardian's grant is needed), or None when it suffices."""
    if not age.at_least(rules.student_consent_age):
        return _needs_guardian(age, rules.student_consent_age, rules, "")
    minor = not age.at_least(ADULT_AGE)
    if scope == Scope.FACE_TEMPLATE and rules.guardian_for_biometrics and minor:
        return _needs_guardian(age, ADULT_AGE, rules, " for the face template (biometric)")
    return None


def _needs_guardian(age: StudentAge, threshold: int, rules: AgeRules, what: str) -> str:
    consent = f"a guardian's consent{what} is required under {rules.label}"
    if age.lowest is None:
        return (
            "student's age is unknown (no date of birth, year of birth or age band on record): "
            f"treated as under {threshold}, {consent}"
        )
    if age.known_as == str(age.lowest):
        return f"student is {age.known_as}: {consent}"
    return f"student is {age.known_as}: treated as under {threshold}, {consent}"
