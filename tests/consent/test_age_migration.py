"""The migration to age-aware consent changes nobody's processing; deciding stays bounded."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext

from consent.models import ConsentRecord
from consent.rules import consent_state, participants_with_consent
from tests.factories import grant_consent, make_notice, make_organization, make_participant
from wellbeing.models import Organization, Participant

BOTH = ("emotion_analysis", "face_template")
BEFORE = [("wellbeing", "0006_classroom_detector_rfb"), ("consent", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_existing_schools_keep_their_students_own_grants_through_the_migration() -> None:
    # given a school from before the migration, whose student consented alone (any age counted)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    school = apps.get_model("wellbeing", "Organization").objects.create(
        name="Old School", slug="old-school", jurisdiction="uk"
    )
    kid = apps.get_model("wellbeing", "Participant").objects.create(
        organization=school, full_name="Young Kid", pseudonym="P-OLDKID01"
    )
    notice = apps.get_model("consent", "ConsentNotice").objects.create(
        organization=school, version=1, title="t", text="t"
    )
    apps.get_model("consent", "ConsentRecord").objects.create(
        participant=kid, notice=notice, scopes=list(BOTH), decision="grant",
        given_by="student", evidence_reference="form", evidence_date=dt.date(2026, 9, 1),
    )  # fmt: skip
    # when the migrations are applied
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    # then the school is on the legacy rules and the student's consent is still active
    migrated = Organization.objects.get(slug="old-school")
    assert (migrated.consent_rules_preset, migrated.student_consent_age) == ("legacy", 0)
    assert migrated.guardian_consent_for_biometrics is False
    assert consent_state(Participant.objects.get(pk=kid.pk), BOTH).allows(*BOTH)


def _decide_all() -> tuple[int, int]:
    people = (
        Participant.objects.select_related("organization")
        .prefetch_related(Prefetch("consent_records", ConsentRecord.objects.in_force()))
        .order_by("pk")
    )
    with CaptureQueriesContext(connection) as queries:
        allowed = participants_with_consent(people, BOTH)
    return len(allowed), len(queries)


def test_participants_with_consent_needs_the_same_queries_for_3_or_30_students(db: Any) -> None:
    # given a UK and a US school, each with a 16-year-old who granted both scopes alone
    schools = [make_organization(), make_organization(jurisdiction="us")]
    for school in schools:
        make_notice(school)
    for school in schools:
        kid = make_participant(school)
        kid.age_band = "16-17"
        kid.save()
        grant_consent(kid, given_by="student")
    allowed_few, queries_few = _decide_all()
    # when ten times as many students are added
    for school in schools:
        for _ in range(14):
            kid = make_participant(school)
            grant_consent(kid, given_by="student")
    allowed_many, queries_many = _decide_all()
    # then the number of queries is the same (records and schools are loaded once)
    assert queries_many == queries_few
    # and only the 16-year-old under COPPA (no guardian rule for biometrics) is allowed both
    # scopes on their own grant: not the UK one, nor anyone of unknown age
    assert (allowed_few, allowed_many) == (1, 1)
