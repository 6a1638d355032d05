"""Small template helpers: links that keep the current filters, sortable headers, number formats."""

from __future__ import annotations

import math

from django import template
from django.utils.html import format_html
from django.utils.text import capfirst

from ml.intervals import looks_unlike
from trailers.filters import SEARCH_MAX_LENGTH
from trailers.models import TrainingRun
from trailers.run_forms import label_for, shown_value
from trailers.words import duration, percent, score

register = template.Library()
LONGEST_VALUE = 4 * SEARCH_MAX_LENGTH  # a filter's value: a search, ids, a date; never longer than this
for _filter in (duration, percent, score):  # trailers/words.py
    register.filter(_filter.__name__, _filter)


@register.simple_tag(takes_context=True)
def url_with(context, **changes) -> str:
    """The current query string with ``changes`` applied (a value of None removes the key), as ``?...``. A value
    longer than any list reads (a search is at most SEARCH_MAX_LENGTH characters) is left out: a 10,000-character
    one went into every link of the page, tripling its size."""
    query = context["request"].GET.copy()
    for key in list(query):
        kept = [value for value in query.getlist(key) if len(value) <= LONGEST_VALUE]
        if kept:
            query.setlist(key, kept)
        else:
            del query[key]
    for key, value in changes.items():
        query.pop(key, None)
        if value not in (None, ""):
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def _sorted_by(context, key: str, default: str) -> str:
    """How the list is sorted by ``key`` now: "ascending", "descending" or "" (not by it)."""
    current = context["request"].GET.get("sort") or default
    return "ascending" if current == key else "descending" if current == f"-{key}" else ""


@register.simple_tag(takes_context=True)
def aria_sort(context, key: str, default: str = ""):
    """The header cell's aria-sort for the column ``sort_header`` sorts by ``key`` (nothing when it does not)."""
    direction = _sorted_by(context, key, default)
    return format_html(' aria-sort="{}"', direction) if direction else ""


@register.simple_tag(takes_context=True)
def sort_header(context, key: str, label: str, default: str = ""):
    """A column header that sorts by ``key``, toggling between ascending and descending, showing the direction: an
    arrow to see, and words a screen reader reads (aria-sort belongs on the header cell: ``aria_sort`` writes it;
    on the link it was ignored, and the arrow read as "black down-pointing triangle")."""
    direction = _sorted_by(context, key, default)
    if direction == "ascending":
        target, arrow, words = f"-{key}", " ▲", " (sorted ascending)"
    elif direction == "descending":
        target, arrow, words = key, " ▼", " (sorted descending)"
    else:
        target, arrow, words = f"-{key}", "", ""
    link = url_with(context, sort=target, page=None)
    if not arrow:
        return format_html('<a href="{}" data-sort="{}">{}</a>', link, key, label)
    return format_html('<a href="{}" data-sort="{}">{}<span aria-hidden="true">{}</span>'
                       '<span class="visually-hidden">{}</span></a>', link, key, label, arrow, words)


@register.filter
def labels_words(source: str) -> str:
    """What a comparison's MAEs measure against, from a run's label source: "mean user ratings"."""
    return {TrainingRun.LabelSource.USER_MEAN: "mean user ratings",
            TrainingRun.LabelSource.REFERENCE: "reference scores"}.get(source, "its labels")


@register.filter
def times(value) -> str:
    """A novelty ("2.5 times as far") to one decimal, rounded down: a trailer shown as 2.0 or more is one the
    predictions page counts and filters as unlike (``ml.intervals.UNLIKE``), and 1.96 shows as 1.9, never as 2.0.
    An em dash when there is none."""
    if value is None or value == "":
        return "—"
    return f"{math.floor(float(value) * 10 + 1e-9) / 10:.1f}"


@register.filter
def unlike(novelty) -> bool:
    """Whether a prediction's novelty reads as unlike its version's training trailers (``ml.intervals.looks_unlike``):
    the trailer page's sentence and the dataset's mark."""
    return looks_unlike(novelty)


@register.filter
def seconds(value) -> str:
    """Seconds as m:ss.s (trailer times) or an em dash."""
    if value is None:
        return "—"
    minutes, rest = divmod(float(value), 60)
    return f"{int(minutes)}:{rest:04.1f}"


# FFmpeg's names for container formats, as people know them.
CONTAINER_NAMES = {"mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV", "matroska,webm": "Matroska/WebM", "avi": "AVI",
                   "mpegts": "MPEG-TS", "flv": "FLV", "mpeg": "MPEG-PS", "asf": "ASF/WMV", "ogg": "Ogg"}


@register.filter
def container(value: str) -> str:
    """A container format as people know it ("MP4/MOV"), not FFmpeg's list of names."""
    return CONTAINER_NAMES.get(value, value)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def bar_width(value, maximum) -> str:
    """Percentage width of a bar: value / maximum, at least a sliver when value > 0."""
    try:
        value, maximum = float(value), float(maximum)
    except (TypeError, ValueError):
        return "0"
    if maximum <= 0 or value <= 0:
        return "0"
    return f"{max(2.0, value / maximum * 100):.1f}"


@register.filter
def option_label(name: str) -> str:
    """A run option's label, as the start-run form shows it ("lr" → "Learning rate")."""
    return capfirst(label_for(str(name)))


@register.filter
def option_value(value) -> str:
    return shown_value(value)
