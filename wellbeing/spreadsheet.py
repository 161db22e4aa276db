"""CSV cells that are safe to open in a spreadsheet and still machine-readable.

Text a spreadsheet would run as a formula (a name typed as ``=HYPERLINK(...)``) is defused with
a quote, at the start of the text and after every character that some spreadsheet treats as a
column separator when it opens a CSV written in another locale (';', tabs, '|') or as a row
break: ``9;=1+1`` in a grade would otherwise be the two cells ``9`` and ``=1+1`` there. Commas
need no such care: the writers quote every field (``WRITER_OPTIONS``), so a comma inside one
never splits it, and JSON in a cell stays parseable. Lists and objects are written as JSON, not
as Python reprs.
"""

from __future__ import annotations

import csv
import json
import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A formula character at the start, or after a foreign separator (spaces allowed between).
_FORMULA_PIECE = re.compile(r"(^|[;\t|\r\n])([ ]*)([=+\-@])")
# For csv.writer / csv.DictWriter: every field quoted.
WRITER_OPTIONS: dict[str, Any] = {"quoting": csv.QUOTE_ALL}


def defuse_formulas(text: str) -> str:
    """``text`` with a quote before every piece that a spreadsheet could run as a formula."""
    if text.startswith(("\t", "\r")):
        text = "'" + text
    return _FORMULA_PIECE.sub(lambda m: f"{m.group(1)}{m.group(2)}'{m.group(3)}", text)


def csv_cell(value: Any) -> Any:
    """The value as a CSV cell: numbers unchanged, JSON for containers, formulas defused."""
    if isinstance(value, dict | list | tuple):
        value = json.dumps(value, sort_keys=True, default=str)  # defused below, still JSON
    if isinstance(value, str):
        return defuse_formulas(value)
    return value
