"""Charts as inline SVG, drawn on the server: loss curves, metric curves, predicted-against-rated.

No JavaScript and no charting library: a chart is a string of SVG that scales
with its container (``viewBox``), with a <title> per point for hover text and
an aria-label for screen readers. Colours come from CSS classes (``series-N``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 520, 320
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 58, 14, 40, 48


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False
    color: int | None = None  # the CSS class series-N to draw it in; None: its place in the chart

    def css(self, index: int) -> str:
        return f"series-{index if self.color is None else self.color}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(round((last - first) / step) + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.1e}"


class _Frame:
    """Maps data coordinates to the plot area and draws the axes."""

    def __init__(self, xs: Sequence[float], ys: Sequence[float], *, x_domain=None, y_domain=None, integer_x=False):
        self.x_ticks = nice_ticks(*(x_domain or (min(xs), max(xs))))
        if integer_x:
            lo, hi = x_domain or (min(xs), max(xs))
            step = max(1, math.ceil((hi - lo) / 10))
            self.x_ticks = list(range(int(lo), int(hi) + 1, step)) or [int(lo)]
        self.y_ticks = nice_ticks(*(y_domain or (min(ys), max(ys))))
        self.x0, self.x1 = (x_domain or (self.x_ticks[0], self.x_ticks[-1]))
        self.y0, self.y1 = (y_domain or (self.y_ticks[0], self.y_ticks[-1]))
        if self.x1 == self.x0:
            self.x1 = self.x0 + 1
        if self.y1 == self.y0:
            self.y1 = self.y0 + 1

    def x(self, value: float) -> float:
        return MARGIN_LEFT + (value - self.x0) / (self.x1 - self.x0) * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT)

    def y(self, value: float) -> float:
        return HEIGHT - MARGIN_BOTTOM - (value - self.y0) / (self.y1 - self.y0) * (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM)

    def axes(self, x_label: str, y_label: str) -> list[str]:
        parts = []
        for tick in self.y_ticks:
            if self.y0 - 1e-9 <= tick <= self.y1 + 1e-9:
                y = self.y(tick)
                parts.append(f'<line class="grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
                parts.append(f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_label(tick)}</text>')
        for tick in self.x_ticks:
            if self.x0 - 1e-9 <= tick <= self.x1 + 1e-9:
                x = self.x(tick)
                parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{HEIGHT - MARGIN_BOTTOM}" '
                             f'y2="{HEIGHT - MARGIN_BOTTOM + 4}"/>')
                parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 18}" '
                             f'text-anchor="middle">{_label(tick)}</text>')
        parts.append(f'<line class="axis" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{HEIGHT - MARGIN_BOTTOM}" '
                     f'y2="{HEIGHT - MARGIN_BOTTOM}"/>')
        parts.append(f'<line class="axis" x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT}" y1="{MARGIN_TOP}" '
                     f'y2="{HEIGHT - MARGIN_BOTTOM}"/>')
        parts.append(f'<text class="axis-label" x="{(MARGIN_LEFT + WIDTH - MARGIN_RIGHT) / 2:.0f}" y="{HEIGHT - 6}" '
                     f'text-anchor="middle">{escape(x_label)}</text>')
        parts.append(f'<text class="axis-label" x="14" y="{(MARGIN_TOP + HEIGHT - MARGIN_BOTTOM) / 2:.0f}" '
                     f'text-anchor="middle" transform="rotate(-90 14 {(MARGIN_TOP + HEIGHT - MARGIN_BOTTOM) / 2:.0f})">'
                     f'{escape(y_label)}</text>')
        return parts


def _svg(parts: list[str], *, label: str, css_class: str, data: dict | None = None) -> SafeString:
    body = "".join(parts)
    # The numbers again, for static/js/charts.js to draw the same chart with uPlot (hover, zoom, legend).
    attribute = f' data-series="{escape(json.dumps(data, allow_nan=False))}"' if data is not None else ""
    return mark_safe(  # noqa: S308 - every piece of text in it went through escape()
        f'<svg class="chart {css_class}"{attribute} viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
        f"{body}</svg>"
    )


def _finite(points):
    return [(float(x), float(y)) for x, y in points
            if x is not None and y is not None and math.isfinite(float(x)) and math.isfinite(float(y))]


def _cleaned(series: Sequence[Series]) -> list[Series]:
    """The series with only their finite points (a NaN loss is no point on a chart, nor a number in its table)."""
    return [Series(s.name, _finite(s.points), s.dashed, s.color) for s in series]


def line_chart(series: Sequence[Series], *, x_label: str, y_label: str, label: str) -> SafeString:
    """One line per series (with a dot per point), a legend, and integer x ticks (epochs)."""
    cleaned = _cleaned(series)
    xs = [x for s in cleaned for x, _ in s.points]
    ys = [y for s in cleaned for _, y in s.points]
    if not xs:
        return mark_safe('<p class="muted chart-empty">No data yet.</p>')
    # Losses and errors are never negative: start the y axis at 0 so that curves compare honestly.
    y_lo = 0.0 if min(ys) >= 0 else min(ys)
    x_domain = (min(xs), max(xs)) if min(xs) < max(xs) else (min(xs) - 1, max(xs) + 1)
    frame = _Frame(xs, ys, x_domain=x_domain, y_domain=None, integer_x=True)
    frame.y_ticks = nice_ticks(y_lo, max(ys))
    frame.y0, frame.y1 = frame.y_ticks[0], frame.y_ticks[-1]
    parts = frame.axes(x_label, y_label)
    for index, s in enumerate(cleaned):
        if not s.points:
            continue
        cls = f"series {s.css(index)}" + (" dashed" if s.dashed else "")
        path = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in s.points)
        parts.append(f'<polyline class="{cls}" points="{path}"/>')
        for x, y in s.points:
            parts.append(f'<circle class="dot {s.css(index)}" cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3">'
                         f"<title>{escape(s.name)}: epoch {x:g}, {y:.4g}</title></circle>")
    # Legend, in the top margin, one entry after the other (a second row when the first is full).
    x, y = MARGIN_LEFT, 16
    for index, s in enumerate(cleaned):
        width = 28 + 7.5 * len(s.name) + 18
        if x + width > WIDTH and x > MARGIN_LEFT:
            x, y = MARGIN_LEFT, y + 16
        cls = f"series {s.css(index)}" + (" dashed" if s.dashed else "")
        parts.append(f'<line class="{cls}" x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}"/>')
        parts.append(f'<text class="legend" x="{x + 28}" y="{y + 4}">{escape(s.name)}</text>')
        x += width
    data = {"x_label": x_label, "y_label": y_label, "series": [
        {"name": s.name, "points": [[x, y] for x, y in s.points], "dashed": s.dashed,
         "color": index if s.color is None else s.color} for index, s in enumerate(cleaned)]}
    return _svg(parts, label=label, css_class="line-chart", data=data)


def chart_table(series: Sequence[Series], *, x_label: str, caption: str) -> SafeString:
    """A line chart's numbers as a table, in a section that opens on demand: a row per x, a column per series (what
    a chart gives only to the eye and the pointer, for a keyboard and a screen reader)."""
    cleaned = _cleaned(series)
    xs = sorted({x for s in cleaned for x, _ in s.points})
    if not xs:
        return mark_safe("")
    values = [dict(s.points) for s in cleaned]
    head = "".join(f'<th scope="col" class="num">{escape(s.name)}</th>' for s in cleaned)
    rows = "".join(
        f'<tr><th scope="row">{x:g}</th>'
        + "".join(f'<td class="num">{v[x]:.4g}</td>' if x in v else '<td class="num">—</td>' for v in values)
        + "</tr>" for x in xs)
    return mark_safe(  # noqa: S308 - every piece of text in it went through escape()
        f'<details class="chart-numbers"><summary>The numbers</summary>'
        f'<div class="table-wrap" role="region" tabindex="0" aria-label="{escape(caption)}">'
        f'<table class="table"><caption class="visually-hidden">{escape(caption)}</caption>'
        f'<thead><tr><th scope="col">{escape(x_label)}</th>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
        f"</details>")


def scatter_chart(points: Sequence[tuple[float, float, str]], *, x_label: str, y_label: str, label: str,
                  domain: tuple[float, float] = (1.0, 10.0), filtered: bool = False) -> SafeString:
    """Points (x, y, hover text) on a square domain with the y = x diagonal: a perfect prediction lies on it.
    ``filtered``: the points are those of a filtered list (an empty chart then says so)."""
    cleaned = [(float(x), float(y), text) for x, y, text in points if x is not None and y is not None]
    if not cleaned:
        empty = "No rated trailers match these filters." if filtered else "No rated trailers with predictions yet."
        return mark_safe(f'<p class="muted chart-empty">{empty}</p>')
    lo = min(domain[0], *(min(x, y) for x, y, _ in cleaned))
    hi = max(domain[1], *(max(x, y) for x, y, _ in cleaned))
    frame = _Frame([lo, hi], [lo, hi], x_domain=(lo, hi), y_domain=(lo, hi))
    parts = frame.axes(x_label, y_label)
    parts.append(f'<line class="diagonal" x1="{frame.x(lo):.1f}" y1="{frame.y(lo):.1f}" x2="{frame.x(hi):.1f}" '
                 f'y2="{frame.y(hi):.1f}"><title>perfect prediction</title></line>')
    for x, y, text in cleaned:
        parts.append(f'<circle class="point" cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="4">'
                     f"<title>{escape(text)}: rated {x:.2f}, predicted {y:.2f}</title></circle>")
    return _svg(parts, label=label, css_class="scatter-chart")


def run_charts(history: Sequence[dict], *, cross_validated: bool = False) -> dict[str, SafeString]:
    """The run page's charts from a run's per-epoch metrics: losses, and MAE against the mean baseline.

    A cross-validated run's ``history`` is its epochs averaged over folds (selectors.epoch_history): the
    evaluated trailers are each fold's held-out ones, so the curves say "held-out fold", not "validation".
    """
    def points(key):
        return [(m.get("epoch"), m.get(key)) for m in history if m.get(key) is not None]

    if cross_validated:
        return {
            "loss": line_chart([Series("train loss", points("train_loss")),
                                Series("held-out fold loss", points("val_loss"))],
                               x_label="epoch (mean over folds)", y_label="loss (standardised ratings)",
                               label="Training and held-out fold loss per epoch, mean over folds"),
            "mae": line_chart([Series("held-out fold MAE", points("val_mae")),
                               Series("mean-rating baseline MAE", points("baseline_mae"), dashed=True)],
                              x_label="epoch (mean over folds)", y_label="MAE (rating points)",
                              label="Held-out fold MAE against the mean-rating baseline per epoch, mean over folds"),
        }
    return {
        "loss": line_chart([Series("train loss", points("train_loss")), Series("validation loss", points("val_loss"))],
                           x_label="epoch", y_label="loss (standardised ratings)", label="Training and validation loss per epoch"),
        "mae": line_chart([Series("validation MAE", points("val_mae")),
                           Series("mean-rating baseline MAE", points("baseline_mae"), dashed=True)],
                          x_label="epoch", y_label="MAE (rating points)",
                          label="Validation MAE against the mean-rating baseline per epoch"),
    }


def compare_charts(compared: Sequence) -> dict[str, SafeString]:
    """Compare page: every run's curves (averaged over folds) overlaid, one colour per run: training loss dashed
    and held-out loss solid; held-out MAE solid and its mean-rating baseline dashed."""
    def points(history, key):
        return [(m.get("epoch"), m.get(key)) for m in history if m.get(key) is not None]

    loss, mae_series = [], []
    for index, c in enumerate(compared):
        name = f"#{c.run.pk}"
        loss += [Series(f"{name} held-out", points(c.history, "val_loss"), color=index),
                 Series(f"{name} train", points(c.history, "train_loss"), dashed=True, color=index)]
        mae_series += [Series(f"{name} MAE", points(c.history, "val_mae"), color=index),
                       Series(f"{name} baseline", points(c.history, "baseline_mae"), dashed=True, color=index)]
    loss_label = "Training (dashed) and held-out loss per epoch, run by run"
    mae_label = "Held-out MAE (solid) and the mean-rating baseline (dashed) per epoch, run by run"
    return {
        "loss": line_chart(loss, x_label="epoch (mean over folds)", y_label="loss (standardised ratings)",
                           label=loss_label),
        "loss_numbers": chart_table(loss, x_label="epoch", caption=loss_label),
        "mae": line_chart(mae_series, x_label="epoch (mean over folds)", y_label="MAE (rating points)",
                          label=mae_label),
        "mae_numbers": chart_table(mae_series, x_label="epoch", caption=mae_label),
    }
