"""CSV cells that are safe to open in a spreadsheet and still machine-readable.

Text a spreadsheet would run as a formula (a name typed as ``=HYPERLINK(...)``) is prefixed with
a quote; lists and objects are written as JSON, not as Python reprs.
"""

from __future__ import annotations

import json
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """The value as a CSV cell: numbers unchanged, JSON for containers, formulas defused."""
    if isinstance(value, dict | list | tuple):
        value = json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
