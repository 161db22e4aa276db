"""Request parsers of the REST API (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

NESTED_MESSAGE = "JSON parse error: the body is nested too deeply."


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a body nested beyond Python's recursion limit refused as 400.

    ``json.loads`` raises RecursionError (not ValueError) for ``[`` x 5000, which DRF's own parser
    let through as a 500.
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(NESTED_MESSAGE) from None
