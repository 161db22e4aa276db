"""Charts are readable without colour vision and without sight: a fixed Okabe-Ito palette
mirrored in the CSS legend, and every canvas labelled, with a table of the same numbers."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from capture.models import SessionStatus
from dashboard.palette import EMOTION_COLOURS
from inference.model_manifest import CANONICAL_CLASSES
from tests.conftest import login
from tests.time_series import add_minutes, add_rollup, make_session, probs
from wellbeing.models import Classroom, Participant, StaffMember

# Okabe & Ito (2008), without black: distinguishable under the common colour-vision deficiencies.
OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
CSS = Path(settings.BASE_DIR) / "dashboard" / "static" / "dashboard" / "dashboard.css"


def test_each_emotion_has_its_own_okabe_ito_colour_and_the_css_legend_agrees() -> None:
    # given the chart palette and the legend swatches of the stylesheet
    swatches = dict(
        re.findall(r"\.emo-(\w+)\s*\{\s*background:\s*(#[0-9A-Fa-f]{6})", CSS.read_text())
    )
    # then every emotion has a distinct colour from the colour-blind-safe set
    assert set(EMOTION_COLOURS) == set(CANONICAL_CLASSES)
    assert set(EMOTION_COLOURS.values()) == OKABE_ITO
    # and the legend shows the same colour for the same emotion as the charts
    assert {k: v.upper() for k, v in swatches.items()} == EMOTION_COLOURS


class ChartOutline(HTMLParser):
    """Per canvas: its role and label, and whether its <section> (or the next) has a table."""

    def __init__(self) -> None:
        super().__init__()
        self.section = -1
        self.canvases: list[dict[str, str | int | None]] = []
        self.tables: set[int] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            self.section += 1
        elif tag == "canvas":
            self.canvases.append({**found, "section": self.section})
        elif tag == "table":
            self.tables.add(self.section)


def chart_problems(html: str) -> list[str]:
    outline = ChartOutline()
    outline.feed(html)
    problems = []
    for canvas in outline.canvases:
        name = canvas.get("id")
        if canvas.get("role") != "img" or not str(canvas.get("aria-label") or "").strip():
            problems.append(f"{name}: no role=img with an aria-label")
        section = int(canvas["section"] or 0)
        if not {section, section + 1} & outline.tables:
            problems.append(f"{name}: no table with the same numbers next to it")
    return problems


def test_every_chart_has_a_label_and_a_table_alternative(
    admin: StaffMember, student: Participant, classroom: Classroom
) -> None:
    # given a student with data and a running session
    now = timezone.now()
    session = make_session(classroom, now, SessionStatus.RUNNING)
    add_minutes(student, session, now - dt.timedelta(minutes=5), 5, probs(sad=0.4))
    add_rollup(student, timezone.localdate(), probs(sad=0.4))
    client = login(admin)
    pages = {
        "student": reverse("dashboard:student", args=[student.pk]),
        "live": reverse("dashboard:live", args=[session.pk]),
        "reports": reverse("dashboard:reports"),
    }
    expected_charts = {"student": 5, "live": 1, "reports": 1}
    for page, url in pages.items():
        # when each page with charts is rendered
        html = client.get(url).content.decode()
        # then it has its charts, each labelled for screen readers and backed by a table
        assert html.count("<canvas") == expected_charts[page], page
        assert chart_problems(html) == [], page


def test_the_outline_check_catches_a_chart_without_a_table() -> None:
    # a bare canvas in its own section, followed by a section without a table, is reported
    html = (
        '<section><canvas id="c" role="img" aria-label="x"></canvas></section><section></section>'
    )
    assert chart_problems(html) == ["c: no table with the same numbers next to it"]
    assert chart_problems('<section><canvas id="d"></canvas><table></table></section>') == [
        "d: no role=img with an aria-label"
    ]
