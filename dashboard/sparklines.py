"""Server-rendered SVG sparklines (no script, no style attribute: the CSP stays strict).

A sparkline is a row of daily shares (0..1, None for a day without data). Runs of two or more
known days become polylines; a known day between two gaps becomes a dot, so one day of data is
never an invisible zero-length line; missing days stay gaps, never bridged. The latest known
value always gets a dot, marked days (an alert's evidence days) a ring, and a reference value
(a rule's threshold or the student's baseline) a dashed line. Rendered by
dashboard/templates/dashboard/sparkline.html.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

WIDTH = 140
HEIGHT = 28


@dataclass(frozen=True)
class Sparkline:
    values: list[float | None]
    segments: list[str]
    dots: list[tuple[float, float]]
    marks: list[tuple[float, float]] = field(default_factory=list)
    latest: tuple[float, float] | None = None
    reference_y: float | None = None
    subject: str = "negative affect"
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def known(self) -> int:
        return sum(value is not None for value in self.values)

    @property
    def description(self) -> str:
        known = [v for v in self.values if v is not None]
        if not known:
            return f"no data in the last {len(self.values)} days"
        return (
            f"{self.subject} over {len(known)} observed days of {len(self.values)}: "
            f"latest {known[-1] * 100:.0f}%, highest {max(known) * 100:.0f}%"
        )


def make_sparkline(
    values: list[float | None],
    *,
    marked: Collection[int] = (),
    reference: float | None = None,
    subject: str = "negative affect",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Sparkline:
    """Scale shares 0..1 to the box (3 px inset so dots are not clipped).

    ``marked`` are indexes to ring (evidence days); ``reference`` a share drawn as a dashed line.
    """
    step = (width - 6) / max(len(values) - 1, 1)

    def xy(i: int, value: float) -> tuple[float, float]:
        share = min(max(value, 0.0), 1.0)
        return round(3 + i * step, 1), round(3 + (1 - share) * (height - 6), 1)

    segments: list[str] = []
    dots: list[tuple[float, float]] = []
    run: list[tuple[float, float]] = []
    for i, value in enumerate([*values, None]):
        if value is not None:
            run.append(xy(i, value))
            continue
        if len(run) == 1:
            dots.append(run[0])
        elif run:
            segments.append(" ".join(f"{x},{y}" for x, y in run))
        run = []
    known = [i for i, v in enumerate(values) if v is not None]
    latest = xy(known[-1], values[known[-1]] or 0.0) if known else None
    marks = [xy(i, values[i] or 0.0) for i in sorted(marked) if i in known]
    ref_y = None if reference is None else xy(0, reference)[1]
    return Sparkline(values, segments, dots, marks, latest, ref_y, subject, width, height)
