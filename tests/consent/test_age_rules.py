"""Age-aware consent rules: every preset's row (docs/privacy.md), ages, unknown ages, refusals.

The decisions are pure (consent.rules.decide_consent on records in memory), so most of these
tests need no database; the ones about schools and participants use real rows.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from consent.age_rules import (
    ADULT_AGE,
    LEGACY_PRESET,
    PRESETS,
    AgeRules,
    Preset,
    age_on,
    default_preset,
    preset_named,
    rules_of,
    student_age,
)
from consent.models import ConsentNotice, ConsentRecord, Decision, GivenBy, Scope
from consent.rules import ConsentState, ConsentSubject, decide_consent, subject_of
from tests.factories import make_organization
from wellbeing.models import AgeBand, Jurisdiction, Organization, Participant

BOTH = (Scope.EMOTION_ANALYSIS, Scope.FACE_TEMPLATE)
TODAY = dt.date(2026, 12, 4)
NOTICE = ConsentNotice(pk=1, version=1)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
ALL_PRESETS = [*PRESETS.values(), LEGACY_PRESET]


def _record(
    given_by: str, decision: str = Decision.GRANT, scopes: tuple[str, ...] = BOTH
) -> ConsentRecord:
    return ConsentRecord(
        notice_id=NOTICE.pk, scopes=list(scopes), decision=decision, given_by=given_by
    )


def _born(age: int) -> Participant:
    """A participant who turned ``age`` on TODAY."""
    return Participant(date_of_birth=TODAY.replace(year=TODAY.year - age))


def _decide(preset: Preset, person: Participant, *records: ConsentRecord) -> ConsentState:
    subject = ConsentSubject(student_age(person, TODAY), AgeRules.from_preset(preset))
    return decide_consent(records, NOTICE, BOTH, subject)


def _docs_rows() -> dict[str, list[str]]:
    """The preset table of docs/privacy.md: key -> its cells."""
    text = DOCS.read_text()
    table = text.split("<!-- consent-presets -->")[1]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        key = re.fullmatch(r"`([a-z-]+)`", cells[1]) if len(cells) == 5 else None
        if key:
            rows[key.group(1)] = cells
    return rows


@pytest.mark.parametrize("preset", ALL_PRESETS, ids=lambda p: p.key)
def test_the_docs_table_states_each_preset_as_the_code_applies_it(preset: Preset) -> None:
    # given the preset table in docs/privacy.md
    row = _docs_rows()[preset.key]
    # then its row says the same age, biometric rule and source as the code
    assert row[0] == preset.label
    assert row[2] == (
        "any age" if preset.student_consent_age == 0 else str(preset.student_consent_age)
    )
    assert row[3] == ("yes" if preset.guardian_for_biometrics else "no")
    assert row[4] == preset.source


def test_the_docs_table_has_no_row_the_code_lacks() -> None:
    assert set(_docs_rows()) == {p.key for p in ALL_PRESETS}


# Each row of the preset table, written out by hand from its source (not read from the code or
# the docs): key, label, the age from which a student's own grant suffices (0: any age), whether
# a minor's face template needs a guardian's grant, and the citation the source must give.
PRESET_ROWS = [
    (
        "uk",
        "UK",
        13,
        True,
        "Data Protection Act 2018 s. 9 (13); Protection of Freedoms Act 2012 s. 26-27",
    ),
    ("us-coppa", "US COPPA", 13, False, "15 U.S.C. § 6501-6506 and 16 CFR 312.5"),
    ("us-il-bipa", "Illinois BIPA", 13, True, "BIPA, 740 ILCS 14/15(b)"),
    ("eu-at", "Austria (EU)", 14, True, "Datenschutzgesetz § 4(4)"),
    ("eu-be", "Belgium (EU)", 13, True, "Law of 30 July 2018, Art. 7"),
    ("eu-bg", "Bulgaria (EU)", 14, True, "Personal Data Protection Act, Art. 25c"),
    ("eu-hr", "Croatia (EU)", 16, True, "(NN 42/2018), Art. 19"),
    ("eu-cy", "Cyprus (EU)", 14, True, "Law 125(I)/2018, Art. 8"),
    ("eu-cz", "Czechia (EU)", 15, True, "Act No. 110/2019 Coll., § 7"),
    ("eu-dk", "Denmark (EU)", 13, True, "Databeskyttelsesloven § 6(2)"),
    ("eu-ee", "Estonia (EU)", 13, True, "Isikuandmete kaitse seadus § 8"),
    ("eu-fi", "Finland (EU)", 13, True, "Tietosuojalaki 1050/2018, § 5"),
    ("eu-fr", "France (EU)", 15, True, "Loi Informatique et Libertés, Art. 45"),
    ("eu-de", "Germany (EU)", 16, True, "no national derogation: the GDPR default of 16"),
    ("eu-gr", "Greece (EU)", 15, True, "Law 4624/2019, Art. 21"),
    ("eu-hu", "Hungary (EU)", 16, True, "no national derogation: the GDPR default of 16"),
    ("eu-ie", "Ireland (EU)", 16, True, "Data Protection Act 2018, s. 31"),
    ("eu-it", "Italy (EU)", 14, True, "protezione dei dati personali, Art. 2-quinquies"),
    ("eu-lv", "Latvia (EU)", 13, True, "Personal Data Processing Law, s. 33"),
    ("eu-lt", "Lithuania (EU)", 14, True, "Law on Legal Protection of Personal Data, Art. 6"),
    ("eu-lu", "Luxembourg (EU)", 16, True, "no national derogation: the GDPR default of 16"),
    ("eu-mt", "Malta (EU)", 13, True, "Data Protection Act (Cap. 586), S.L. 586.11"),
    ("eu-nl", "Netherlands (EU)", 16, True, "Uitvoeringswet AVG, Art. 5"),
    ("eu-pl", "Poland (EU)", 16, True, "no national derogation: the GDPR default of 16"),
    ("eu-pt", "Portugal (EU)", 13, True, "Lei n.º 58/2019, Art. 16"),
    ("eu-ro", "Romania (EU)", 16, True, "no national derogation: the GDPR default of 16"),
    ("eu-sk", "Slovakia (EU)", 16, True, "Act No. 18/2018 Coll., § 15"),
    ("eu-si", "Slovenia (EU)", 15, True, "ZVOP-2 (2022), Art. 8"),
    ("eu-es", "Spain (EU)", 14, True, "Ley Orgánica 3/2018 (LOPDGDD), Art. 7"),
    ("eu-se", "Sweden (EU)", 13, True, "Lag (2018:218) ch. 2 § 4"),
    ("guardian-always", "Guardian for every minor", 18, True, "no statute"),
    ("legacy", "legacy", 0, False, "the rules before age-aware consent"),
]


def test_every_row_of_the_preset_table_has_a_written_out_case() -> None:
    assert [row[0] for row in PRESET_ROWS] == list(_docs_rows())
    assert {row[0] for row in PRESET_ROWS} == {p.key for p in ALL_PRESETS}


@pytest.mark.parametrize(
    ("key", "label", "age", "guardian_for_face", "cited"),
    PRESET_ROWS,
    ids=[row[0] for row in PRESET_ROWS],
)
def test_each_preset_row_holds_in_the_docs_the_code_and_the_decisions(
    key: str, label: str, age: int, guardian_for_face: bool, cited: str
) -> None:
    # given the preset as the code defines it and its row in docs/privacy.md
    preset = preset_named(key)
    row = _docs_rows()[key]
    # then both say what the source says
    assert (preset.label, preset.student_consent_age, preset.guardian_for_biometrics) == (
        label,
        age,
        guardian_for_face,
    )
    assert row[:4] == [
        label,
        f"`{key}`",
        str(age) if age else "any age",
        "yes" if guardian_for_face else "no",
    ]
    assert cited in preset.source and cited in row[4]
    if key.startswith("eu-"):
        assert preset.source.startswith("GDPR Art. 8(1) and 9(2)(a); ")
    # when a student grants alone the day before that birthday, then nothing is active
    own = _record(GivenBy.STUDENT)
    if age:
        day_short = Participant(
            date_of_birth=TODAY.replace(year=TODAY.year - age) + dt.timedelta(1)
        )
        assert _decide(preset, day_short, own).active_scopes == frozenset()
    # when they grant alone on that birthday (or at 7, where any age suffices), then emotion
    # analysis is active, and the face template only where no guardian is needed for it
    state = _decide(preset, _born(age or 7), own)
    expected = {Scope.EMOTION_ANALYSIS} if guardian_for_face and age < 18 else set(BOTH)
    assert state.active_scopes == expected
    # and at 17 the face template needs a guardian exactly when the row says so
    at_17 = _decide(preset, _born(17), own).active_scopes
    if age <= 17:
        assert (Scope.FACE_TEMPLATE in at_17) is not guardian_for_face
    # and an adult's own grant covers both everywhere
    assert _decide(preset, _born(18), own).active_scopes == set(BOTH)


@pytest.mark.parametrize("preset", ALL_PRESETS, ids=lambda p: p.key)
def test_own_grant_suffices_from_the_preset_age_and_not_a_day_before(preset: Preset) -> None:
    # given a student whose only grant is their own, one day short of the preset's age
    age = preset.student_consent_age
    own = _record(GivenBy.STUDENT)
    if age > 0:
        day_before = Participant(
            date_of_birth=TODAY.replace(year=TODAY.year - age) + dt.timedelta(days=1)
        )
        state = _decide(preset, day_before, own)
        # then nothing is active, and the reason names the age and the rules
        assert state.active_scopes == frozenset()
        reason = state.reasons[Scope.EMOTION_ANALYSIS]
        assert reason == (
            f"student is {age - 1}: a guardian's consent is required under {preset.label} rules"
        )
    # when they reach the age, their grant of emotion analysis counts
    assert _decide(preset, _born(age), own).allows(Scope.EMOTION_ANALYSIS)


@pytest.mark.parametrize("preset", ALL_PRESETS, ids=lambda p: p.key)
def test_a_minors_face_template_needs_a_guardian_where_the_preset_says_so(preset: Preset) -> None:
    # given a 17-year-old (above every preset's own-consent age but 18) granting alone
    own = _record(GivenBy.STUDENT)
    state = _decide(preset, _born(ADULT_AGE - 1), own)
    # then the face template needs a guardian exactly under the presets that say so
    if preset.guardian_for_biometrics and preset.student_consent_age < ADULT_AGE:
        assert state.active_scopes == {Scope.EMOTION_ANALYSIS}
        assert state.reasons[Scope.FACE_TEMPLATE] == (
            "student is 17: a guardian's consent for the face template (biometric) is required "
            f"under {preset.label} rules"
        )
    elif not preset.guardian_for_biometrics:
        assert state.allows(*BOTH)
    # and an adult decides alone under every preset
    assert _decide(preset, _born(ADULT_AGE), own).allows(*BOTH)


@pytest.mark.parametrize("preset", ALL_PRESETS, ids=lambda p: p.key)
def test_a_guardians_grant_counts_at_every_age(preset: Preset) -> None:
    # given a seven-year-old with a guardian's grant
    state = _decide(preset, _born(7), _record(GivenBy.GUARDIAN))
    # then both scopes are active
    assert state.allows(*BOTH)


@pytest.mark.parametrize("preset", ALL_PRESETS, ids=lambda p: p.key)
@pytest.mark.parametrize("refuser", [GivenBy.STUDENT, GivenBy.GUARDIAN])
def test_a_refusal_wins_under_every_preset_at_every_age(preset: Preset, refuser: str) -> None:
    # given grants by a guardian and by the student, and one refusal
    for age in (7, 12, 15, 17, 30):
        state = _decide(
            preset,
            _born(age),
            _record(GivenBy.GUARDIAN),
            _record(GivenBy.STUDENT),
            _record(refuser, Decision.REFUSE),
        )
        # then nothing is active, whatever the age
        assert state.active_scopes == frozenset()
        assert "objection on record" in state.reasons[Scope.EMOTION_ANALYSIS]


def test_a_seven_year_olds_own_grant_no_longer_activates_anything() -> None:
    # given the example: decide_consent([student_grant]) for a seven-year-old (UK)
    state = _decide(PRESETS["uk"], _born(7), _record(GivenBy.STUDENT))
    # then nothing is active
    assert state.active_scopes == frozenset()
    assert state.reasons[Scope.EMOTION_ANALYSIS] == (
        "student is 7: a guardian's consent is required under UK rules"
    )


def test_unknown_age_is_treated_as_below_the_age_and_says_so() -> None:
    # given a student with no date, year or band on record granting alone (Spain: 14)
    state = _decide(PRESETS["eu-es"], Participant(), _record(GivenBy.STUDENT))
    # then a guardian is required, and the reason says the age is unknown
    assert state.active_scopes == frozenset()
    assert state.reasons[Scope.EMOTION_ANALYSIS] == (
        "student's age is unknown (no date of birth, year of birth or age band on record): "
        "treated as under 14, a guardian's consent is required under Spain (EU) rules"
    )


def test_legacy_rules_keep_the_old_behaviour_even_for_unknown_ages() -> None:
    # given the legacy rules (existing schools after the migration) and an unknown age
    state = _decide(LEGACY_PRESET, Participant(), _record(GivenBy.STUDENT))
    # then the student's own grant activates both scopes, as before issue 16
    assert state.allows(*BOTH)


@pytest.mark.parametrize(
    ("birth_year", "today", "known_as", "allowed"),
    [
        (2013, dt.date(2026, 6, 1), "12 or 13 (born 2013)", False),
        (2013, dt.date(2026, 12, 31), "13 (born 2013)", True),
        (2012, dt.date(2026, 1, 1), "13 or 14 (born 2012)", True),
    ],
)
def test_a_year_of_birth_counts_the_youngest_the_student_can_be(
    birth_year: int, today: dt.date, known_as: str, allowed: bool
) -> None:
    # given only a year of birth, under UK rules (13)
    age = student_age(Participant(birth_year=birth_year), today)
    subject = ConsentSubject(age, AgeRules.from_preset(PRESETS["uk"]))
    state = decide_consent([_record(GivenBy.STUDENT)], NOTICE, BOTH, subject)
    # then the lowest possible age decides
    assert age.known_as == known_as
    assert state.allows(Scope.EMOTION_ANALYSIS) is allowed
    if not allowed:
        assert state.reasons[Scope.EMOTION_ANALYSIS] == (
            "student is 12 or 13 (born 2013): treated as under 13, a guardian's consent is "
            "required under UK rules"
        )


@pytest.mark.parametrize(
    ("band", "preset", "allowed"),
    [
        (AgeBand.UNDER_13, "us-coppa", False),
        (AgeBand.FROM_13_TO_15, "us-coppa", True),
        (AgeBand.FROM_13_TO_15, "eu-at", False),  # 14: the band does not show the student is
        (AgeBand.FROM_16_TO_17, "eu-de", True),
        (AgeBand.FROM_16_TO_17, "guardian-always", False),
        (AgeBand.ADULT, "guardian-always", True),
    ],
)
def test_an_age_band_counts_its_lowest_age(band: str, preset: str, allowed: bool) -> None:
    # given only a school-provided age band and the student's own grant
    state = _decide(PRESETS[preset], Participant(age_band=band), _record(GivenBy.STUDENT))
    # then the band's lowest age decides, and a refusal of the grant says which band
    assert state.allows(Scope.EMOTION_ANALYSIS) is allowed
    if not allowed:
        assert f"in the {band} age band: treated as under" in state.reasons[Scope.EMOTION_ANALYSIS]


def test_the_date_of_birth_wins_over_year_and_band() -> None:
    person = Participant(date_of_birth=dt.date(2014, 3, 1), birth_year=2010, age_band="18-plus")
    assert student_age(person, TODAY).lowest == 12


@pytest.mark.parametrize(
    ("day", "age"),
    [(dt.date(2026, 2, 28), 13), (dt.date(2026, 3, 1), 14), (dt.date(2028, 2, 29), 16)],
)
def test_a_29_february_birthday_counts_from_1_march_in_other_years(day: dt.date, age: int) -> None:
    assert age_on(dt.date(2012, 2, 29), day) == age


@pytest.mark.django_db
def test_age_is_counted_on_the_schools_own_calendar_day() -> None:
    # given a school in Auckland, where it is already 5 December while it is 4 December in UTC
    school = make_organization(timezone="Pacific/Auckland")
    instant = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    kid = Participant(organization=school, date_of_birth=dt.date(2013, 12, 5))
    # then on the school's day the student is already 13
    assert subject_of(kid, school.local_today(instant)).age.lowest == 13
    assert school.local_today(instant) == dt.date(2026, 12, 5)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("jurisdiction", "preset"),
    [
        (Jurisdiction.UK, "uk"),
        (Jurisdiction.US, "us-coppa"),
        (Jurisdiction.US_IL, "us-il-bipa"),
        (Jurisdiction.EU, "eu-de"),
        (Jurisdiction.OTHER, "guardian-always"),
    ],
)
def test_a_new_school_starts_with_its_jurisdictions_preset_stored(
    jurisdiction: str, preset: str
) -> None:
    # when a school is created
    school = make_organization(jurisdiction=jurisdiction)
    school.refresh_from_db()
    # then its jurisdiction's preset is stored with its values
    assert school.consent_rules_preset == preset == default_preset(jurisdiction).key
    assert rules_of(school) == AgeRules.from_preset(PRESETS[preset])
    assert school.student_consent_age == PRESETS[preset].student_consent_age


def test_edited_rules_say_so_in_the_reason() -> None:
    # given UK rules edited to own consent from 16
    rules = AgeRules("uk", 16, True)
    subject = ConsentSubject(student_age(_born(15), TODAY), rules)
    state = decide_consent([_record(GivenBy.STUDENT)], NOTICE, BOTH, subject)
    # then the reason names the edited rules
    assert state.reasons[Scope.EMOTION_ANALYSIS] == (
        "student is 15: a guardian's consent is required under UK rules (edited)"
    )


def test_rules_of_an_organization_read_its_stored_values() -> None:
    school = Organization(
        jurisdiction=Jurisdiction.EU,
        consent_rules_preset="eu-fr",
        student_consent_age=16,
        guardian_consent_for_biometrics=False,
    )
    assert rules_of(school) == AgeRules("eu-fr", 16, False)
    assert rules_of(school).edited
