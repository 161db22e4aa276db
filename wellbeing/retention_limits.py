"""The bounds a school's retention periods must stay within, and why (docs/privacy.md).

Checked by Organization.clean (so the Django admin shows form errors and every settings change
through wellbeing.actions.update_school_settings is refused) and by the /api/school/ serializer
(so the API answers 400 naming the field and the reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Bounds:
    low: int
    high: int
    why: str


RETENTION_BOUNDS: dict[str, Bounds] = {
    "raw_observation_days": Bounds(
        1, 31, "per-frame readings only feed the per-minute figures and error checks"
    ),
    "minute_aggregate_days": Bounds(1, 730, "per-minute detail is for recent follow-up"),
    "daily_rollup_days": Bounds(1, 3650, "day totals serve trends over a school career"),
    "alert_days": Bounds(1, 3650, "alerts serve follow-up over a school career"),
    "audit_days": Bounds(
        365,
        3650,
        "the access log is the evidence of who saw or changed whose data; it must outlive "
        "the data it audits and cover at least a school year of complaints and audits",
    ),
    "template_days_after_last_seen": Bounds(
        1, 1095, "biometric templates go within 3 years of the last interaction (BIPA s. 15(a))"
    ),
}

# Reports hide groups smaller than Organization.min_group_size; below this floor the
# suppression no longer protects a single student.
MIN_GROUP_SIZE_FLOOR = 3

# The access log must be kept at least as long as any data whose reads and changes it records.
AUDITED_PERIODS = tuple(name for name in RETENTION_BOUNDS if name != "audit_days")


def bounds_message(name: str) -> str:
    """Why ``name`` was refused: its allowed range and the reason for it."""
    bounds = RETENTION_BOUNDS[name]
    label = name.replace("_days", "").replace("_", " ").capitalize()
    return f"{label} retention must be between {bounds.low} and {bounds.high} days: {bounds.why}."


def retention_problems(values: Mapping[str, object]) -> dict[str, str]:
    """Field name -> plain-words message for each period out of bounds (ints only; other
    fields are left to their own validation), and for an audit period shorter than another."""
    problems: dict[str, str] = {}
    for name, bounds in RETENTION_BOUNDS.items():
        value = values.get(name)
        if isinstance(value, int) and not bounds.low <= value <= bounds.high:
            problems[name] = bounds_message(name)
    audit = values.get("audit_days")
    periods = {name: values.get(name) for name in AUDITED_PERIODS}
    longest = max((v for v in periods.values() if isinstance(v, int)), default=0)
    if "audit_days" not in problems and isinstance(audit, int) and audit < longest:
        longer = sorted(name for name, v in periods.items() if isinstance(v, int) and v > audit)
        problems["audit_days"] = (
            f"Audit retention ({audit} days) must be at least as long as the data it audits: "
            f"{', '.join(longer)} keep data up to {longest} days."
        )
    return problems
