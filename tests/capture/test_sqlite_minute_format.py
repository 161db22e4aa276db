"""The worker's raw upserts store datetimes as the ORM does, on the demo's SQLite too.

Before the fix SQLite stored ``minute`` as ``2026-03-02 09:00:00+00:00`` while the ORM wrote and
compared ``2026-03-02 09:00:00``: ``minute=`` lookups missed the worker's rows, so the student
page said "0 class sessions" above a table listing the session. The suite's database is
PostgreSQL, so the check runs the real worker code in a child process on a SQLite file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_minute_rows_written_on_sqlite_match_orm_lookups_and_count_the_session(
    tmp_path: Path,
) -> None:
    # given a fresh SQLite demo database
    db_file = tmp_path / "demo.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    env["DATA_DIR"] = str(tmp_path)
    # when the worker stores two frames of one student in the same minute
    done = subprocess.run(
        [sys.executable, "-m", "tests.capture.sqlite_minute_probe", str(db_file)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # then the minute is stored in the ORM's format, found by an exact lookup,
    assert result["stored_minutes"] == ["2026-03-02 09:00:00"]
    assert result["exact_matches"] == 1
    # and the day counts the one class session the student attended
    assert result["rollup_sessions"] == 1
    assert result["session_total_first"] == "2026-03-02T09:00:00+00:00"
