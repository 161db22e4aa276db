"""The worker's tables carry no index that another index already covers (each costs every write)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, models

from capture.models import MinuteAggregate, Observation, SessionTotal


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Observation, MinuteAggregate, SessionTotal])
def test_no_index_is_a_leading_prefix_of_another(model: type[models.Model]) -> None:
    # given the indexes and unique constraints PostgreSQL holds for a table the worker writes
    table = model._meta.db_table
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    columns = [tuple(c["columns"]) for c in found.values() if c["index"] or c["unique"]]
    # when each index is compared with the others / then none repeats another's leading columns
    redundant = [
        (a, b)
        for a in columns
        for b in columns
        if a != b and len(a) < len(b) and b[: len(a)] == a and not _is_unique(found, a)
    ]
    assert redundant == []


def _is_unique(found: dict[str, Any], columns: tuple[str, ...]) -> bool:
    """A unique constraint or primary key is not redundant: it enforces something."""
    return any(
        tuple(c["columns"]) == columns and (c["unique"] or c["primary_key"]) for c in found.values()
    )
