"""Organization.tzinfo and the school-local day helpers (local_today, local_date, local_midnight).

The school's day, not UTC's, decides rollup days, report weeks and "today" on every page; near
UTC midnight the two differ for schools far from Greenwich.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from tests.factories import make_organization
from wellbeing.models import Organization

# 23:30 UTC on Monday 2 March 2026: already Tuesday in Auckland (UTC+13, summer time), still
# Monday afternoon in Los Angeles (UTC-8; its summer time starts on 8 March).
LATE_MONDAY_UTC = dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC)
# An hour later, 00:30 UTC on Tuesday: UTC has moved on, Los Angeles has not.
EARLY_TUESDAY_UTC = dt.datetime(2026, 3, 3, 0, 30, tzinfo=dt.UTC)
MONDAY, TUESDAY = dt.date(2026, 3, 2), dt.date(2026, 3, 3)


def school_in(zone: str) -> Organization:
    """An unsaved school: the helpers read only ``timezone``, so no database is needed."""
    return Organization(name="Test School", slug="test-school", timezone=zone)


def test_tzinfo_is_the_zone_named_by_timezone() -> None:
    # given a school in Auckland
    school = school_in("Pacific/Auckland")
    # when its time zone is read twice
    first, second = school.tzinfo, school.tzinfo
    # then it is that IANA zone, and the same (zoneinfo-cached) object each time
    assert first == zoneinfo.ZoneInfo("Pacific/Auckland")
    assert first.key == "Pacific/Auckland"
    assert first is second


def test_tzinfo_follows_a_timezone_changed_on_the_instance() -> None:
    # given a school whose zone has been read once
    school = school_in("Pacific/Auckland")
    assert school.tzinfo.key == "Pacific/Auckland"
    # when its timezone is reassigned (not saved)
    school.timezone = "America/Los_Angeles"
    # then the next read gives the new zone, not a stale one
    assert school.tzinfo.key == "America/Los_Angeles"


@pytest.mark.django_db
def test_tzinfo_of_a_saved_change_survives_a_reload() -> None:
    # given a stored school in London
    school = make_organization(timezone="Europe/London")
    # when its timezone is changed, saved and the row read again
    school.timezone = "Pacific/Auckland"
    school.save(update_fields=["timezone"])
    reloaded = Organization.objects.get(pk=school.pk)
    # then the reloaded school has the new zone and its local day
    assert reloaded.tzinfo.key == "Pacific/Auckland"
    assert reloaded.local_today(LATE_MONDAY_UTC) == TUESDAY


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        ("Pacific/Auckland", LATE_MONDAY_UTC, TUESDAY),
        ("UTC", LATE_MONDAY_UTC, MONDAY),
        ("America/Los_Angeles", LATE_MONDAY_UTC, MONDAY),
        ("Pacific/Auckland", EARLY_TUESDAY_UTC, TUESDAY),
        ("UTC", EARLY_TUESDAY_UTC, TUESDAY),
        ("America/Los_Angeles", EARLY_TUESDAY_UTC, MONDAY),
    ],
)
def test_local_today_is_the_schools_date_not_utcs(
    zone: str, now: dt.datetime, expected: dt.date
) -> None:
    # given a school in ``zone``
    school = school_in(zone)
    # when it asks for today at an instant near UTC midnight
    today = school.local_today(now)
    # then it gets its own calendar date at that instant
    assert today == expected


def test_local_today_does_not_depend_on_the_zone_the_instant_is_written_in() -> None:
    # given one instant, written in UTC and in Los Angeles time
    in_la = LATE_MONDAY_UTC.astimezone(zoneinfo.ZoneInfo("America/Los_Angeles"))
    school = school_in("Pacific/Auckland")
    # when the Auckland school asks for today with either
    # then both give Auckland's date
    assert school.local_today(in_la) == school.local_today(LATE_MONDAY_UTC) == TUESDAY


def test_local_today_changes_with_the_instances_timezone() -> None:
    # given a school in Auckland, where it is already Tuesday
    school = school_in("Pacific/Auckland")
    assert school.local_today(LATE_MONDAY_UTC) == TUESDAY
    # when the school is moved to Los Angeles on the same instance
    school.timezone = "America/Los_Angeles"
    # then the same instant is Monday there
    assert school.local_today(LATE_MONDAY_UTC) == MONDAY


def test_local_today_defaults_to_the_current_instant(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a clock stopped at 23:30 UTC on Monday
    monkeypatch.setattr(timezone, "now", lambda: LATE_MONDAY_UTC)
    # when schools on either side of the date line ask for today without an instant
    auckland = school_in("Pacific/Auckland").local_today()
    los_angeles = school_in("America/Los_Angeles").local_today()
    # then each gets its own date at that instant
    assert (auckland, los_angeles) == (TUESDAY, MONDAY)


def test_local_today_refuses_a_naive_instant() -> None:
    # given a naive datetime, which names no instant
    naive = LATE_MONDAY_UTC.replace(tzinfo=None)
    # when it is passed as now
    # then it is refused rather than read as the server's local time
    with pytest.raises(ValueError, match="naive"):
        school_in("Pacific/Auckland").local_today(naive)


def test_local_midnight_starts_the_schools_day() -> None:
    # given a school in Auckland
    school = school_in("Pacific/Auckland")
    # when it asks for the start of Tuesday
    midnight = school.local_midnight(TUESDAY)
    # then that is 11:00 UTC on Monday, and the first instant of its Tuesday
    assert midnight == dt.datetime(2026, 3, 2, 11, tzinfo=dt.UTC)
    assert school.local_date(midnight) == TUESDAY
    assert school.local_date(midnight - dt.timedelta(microseconds=1)) == MONDAY


def test_a_local_day_is_23_hours_long_when_the_clocks_go_forward() -> None:
    # given a school in Los Angeles, where summer time starts on Sunday 8 March 2026
    school = school_in("America/Los_Angeles")
    sunday = dt.date(2026, 3, 8)
    # when the day is measured from midnight to midnight, as instants (Python subtracts two
    # datetimes of one zone by wall clock, so both go to UTC first)
    start = school.local_midnight(sunday).astimezone(dt.UTC)
    end = school.local_midnight(sunday + dt.timedelta(days=1)).astimezone(dt.UTC)
    length = end - start
    # then it lasts 23 hours
    assert length.total_seconds() == 23 * 3600
