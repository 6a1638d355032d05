"""Figures in the words every page, the admin and the services' messages use: one way to write a score, a
length of time, a share. Plain functions (the templates' filters of the same names are these)."""

from __future__ import annotations


def score(value, digits: int = 1) -> str:
    """A rating or prediction to ``digits`` decimals, or an em dash when there is none."""
    if value is None or value == "":
        return "—"
    return f"{float(value):.{int(digits)}f}"


def duration(value) -> str:
    """A length of time in words: 45 s, 3 min 5 s, 14 min, 2 h 4 min, 2 h."""
    if value is None:
        return "—"
    total = int(round(float(value)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def percent(value) -> str:
    if value is None:
        return "0%"
    return f"{float(value) * 100:.0f}%"


def mean_sd(figure: dict, digits: int = 3) -> str:
    """A figure over folds, {"mean", "sd"}: "0.612 ± 0.041", or an em dash when there is none."""
    if figure.get("mean") is None:
        return "—"
    return f"{score(figure['mean'], digits)} ± {score(figure.get('sd'), digits)}"
