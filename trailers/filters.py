"""The lists' filters, each declared once: one django-filter FilterSet per list (the dataset, the predictions, the
runs), with each query parameter's name, what it takes, its label and its help.

- The pages render its form and list the rows it leaves; a value it cannot read is left out (the predictions
  page names it), and the other filters still apply.
- The API filters its lists with it (``ListFilters``): a value it cannot read is a 400 naming the parameter. Its
  schema documents every query parameter from it (drf-spectacular reads django-filter).

A list's orders are the selectors' (each one an index read, a page's ids first: trailers/selectors.py); a FilterSet
only picks one by its key, so that a sort's SQL is the same whichever page or endpoint asks for it.
"""

from __future__ import annotations

import django_filters as df
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import Exists, OuterRef, Q
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from ml.intervals import UNLIKE

from . import selectors, selectors_runs
from .models import Prediction, Rating, Trailer, TrainingRun
from .presets import PRESET_NAMES

SEARCH_MAX_LENGTH = 200
YES_NO = [("yes", "yes"), ("no", "no")]

# What each sort is called in the Sort select: the heading of its column on the page.
TRAILER_SORT_LABELS = {
    "uploaded": "Uploaded", "title": "Title", "status": "Status", "duration": "Duration", "mean": "Mean rating",
    "count": "Ratings", "mine": "Yours", "reference": "Reference", "predicted": "Predicted",
}
PREDICTION_SORT_LABELS = {
    "title": "Trailer", "predicted": "Predicted", "spread": "Spread", "novelty": "Unlike", "mean": "Mean rating",
    "count": "Ratings",
    "reference": "Reference", "error": "Error",
}


def _sort_choices(sorts: dict, labels: dict[str, str]) -> list[tuple[str, str]]:
    """Each sort key ascending, then descending (a leading "-")."""
    choices = []
    for key in sorts:
        label = labels.get(key, key.capitalize())
        choices += [(key, f"{label} ↑"), (f"-{key}", f"{label} ↓")]
    return choices


def _documented(schema: dict, filter_: df.Filter) -> df.Filter:
    """``filter_`` with its query parameter's schema said in full (what its form field takes, and its help), where
    drf-spectacular cannot read it from the filter: a client whose value fits the schema is never refused."""
    help_text = filter_.extra.get("help_text")
    return extend_schema_field({**schema, **({"description": help_text} if help_text else {})})(filter_)


def _search(help_text: str, **kwargs) -> df.Filter:
    return _documented({"type": "string", "minLength": 1, "maxLength": SEARCH_MAX_LENGTH}, df.CharFilter(
        max_length=SEARCH_MAX_LENGTH, label="Search", help_text=help_text,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "title"}), **kwargs))


def _yes_no(label: str, help_text: str, method: str) -> df.ChoiceFilter:
    return df.ChoiceFilter(choices=YES_NO, empty_label="any", label=label, help_text=help_text, method=method)


def _sort(choices: list[tuple[str, str]], help_text: str) -> df.ChoiceFilter:
    # No empty choice: the select shows the order in force.
    return df.ChoiceFilter(choices=choices, empty_label=None, label="Sort", help_text=help_text, method="order")


class FloatFilter(df.Filter):
    """A number compared as a float (any finite one: django-filter's NumberFilter caps it at 1e50)."""

    field_class = forms.FloatField


class RegexFilter(df.Filter):
    """Text that matches ``regex``."""

    field_class = forms.RegexField


class IdFilter(df.Filter):
    """A row id: a whole number from 1 to the largest a database integer column holds."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=selectors.MAX_ID, **kwargs)


class _ListFilterSet(df.FilterSet):
    """A list's filters. An absent sort reads as ``default_sort``, so that a page's Sort select shows the order in
    force when the query names none."""

    default_sort = ""

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and self.default_sort and not data.get("sort"):
            data = data.copy()
            data["sort"] = self.default_sort
        super().__init__(data, *args, **kwargs)

    def checked(self) -> dict:
        """The values read (an unreadable one is left out): what the rows are filtered by."""
        self.is_valid()
        return self.form.cleaned_data

    def left_out(self) -> list[str]:
        """Each value of the query the list cannot read (an address edited by hand: ``?sort=bogus``), in words for
        the page. The rows are listed without it, as they always were; and the form is made again without it, so
        that its select shows the order or filter in force, not its first choice as if that were chosen."""
        self.is_valid()
        unread = [name for name in self.form.errors if name in self.form.fields]
        if not unread:
            return []
        words = []
        for name in unread:
            label, errors = self.form.fields[name].label or name.capitalize(), self.form.errors.as_data()[name]
            why = ("it is not one of the choices" if all(e.code == "invalid_choice" for e in errors)
                   else " ".join(m for e in errors for m in e.messages).rstrip("."))
            value = str(self.data.get(name))
            value = value if len(value) <= 40 else value[:39] + "…"
            words.append(f"{label} “{value}” was left out ({why}): the list is shown without it.")
        data = self.data.copy()
        for name in unread:
            data.pop(name, None)
        if "sort" in unread and self.default_sort:
            data["sort"] = self.default_sort
        self.data = data
        for cached in ("_form", "_qs"):
            self.__dict__.pop(cached, None)
        return words


# --- the dataset ------------------------------------------------------------------------------------------------


class TrailerFilterSet(_ListFilterSet):
    """The dataset page's and ``GET /api/trailers/``'s filters and order; the user is the request's."""

    default_sort = selectors.DEFAULT_TRAILER_SORT

    # Declared in the order they are applied.
    status = df.ChoiceFilter(choices=Trailer.Status.choices, empty_label="any", label="Status",
                             help_text="where the trailer's processing is")
    rated = _yes_no("Rated by me", "rated by me", "filter_rated")
    predicted = _yes_no("Has prediction", "has a prediction from the active model version", "filter_predicted")
    q = _search("search in titles and file names", method="search")
    sort = _sort(_sort_choices(selectors.TRAILER_SORTS, TRAILER_SORT_LABELS),
                 "a field to sort by, '-' first for descending")

    class Meta:
        model = Trailer
        fields: list[str] = []

    def filter_rated(self, trailers, name, value: str):
        mine = Exists(Rating.objects.filter(trailer=OuterRef("pk"), user=self.request.user))
        return trailers.filter(mine if value == "yes" else ~mine)

    def filter_predicted(self, trailers, name, value: str):
        has = Exists(Prediction.objects.filter(trailer=OuterRef("pk"), model_version=selectors.active_version_id()))
        return trailers.filter(has if value == "yes" else ~has)

    def search(self, trailers, name, value: str):
        return trailers.filter(Q(title__uicontains=value) | Q(original_name__uicontains=value))

    def order(self, trailers, name, value: str):
        return selectors.sort_trailers(trailers, value)


# --- predictions ------------------------------------------------------------------------------------------------


class PredictionFilterForm(forms.Form):
    """The predictions filters' form: a range that cannot match says so (the rows it leaves are none)."""

    def clean(self):
        data = super().clean()
        low, high = data.get("min_score"), data.get("max_score")
        if low is not None and high is not None and low > high:
            self.add_error(None, f"“Predicted from” ({low:g}) is above “to” ({high:g}), so no prediction can match: "
                                 "swap them, or clear one.")
        return data

    @property
    def is_filtered(self) -> bool:
        """Whether the query asks for anything but the version and the order."""
        return any(self.data.get(name) for name in ("q", "rated", "unlike", "min_score", "max_score"))


class PredictionFilterSet(_ListFilterSet):
    """The predictions page's filters and order (its version is the page's to choose: an unknown one is a 404)."""

    default_sort = selectors.DEFAULT_PREDICTION_SORT

    q = _search("search in trailer titles", field_name="trailer__title", lookup_expr="uicontains")
    rated = _yes_no("Has ratings", "whether the trailer has user ratings", "filter_rated")
    unlike = _yes_no("Looks unlike the training trailers",
                     f"whether the trailer looks unlike the version's training trailers: its novelty is {UNLIKE:g} or "
                     f"more ('no': it has a novelty, below {UNLIKE:g}; a version without novelty matches neither)",
                     "filter_unlike")
    min_score = _documented({"type": "number"}, FloatFilter(
        field_name="score", lookup_expr="gte", label="Predicted from", help_text="predicted score from (at least)",
        widget=forms.NumberInput(attrs={"step": "0.1"})))
    max_score = _documented({"type": "number"}, FloatFilter(
        field_name="score", lookup_expr="lte", label="to", help_text="predicted score up to (at most)",
        widget=forms.NumberInput(attrs={"step": "0.1"})))
    sort = _sort(_sort_choices(selectors.PREDICTION_SORTS, PREDICTION_SORT_LABELS),
                 "a field to sort by, '-' first for descending")

    class Meta:
        model = Prediction
        fields: list[str] = []
        form = PredictionFilterForm

    @property
    def narrowed(self) -> bool:
        """Whether these filters leave out any rated trailer's prediction (the figures are over rated trailers:
        "has ratings" and the sort leave every one of those in)."""
        data = self.checked()
        return bool(data.get("q") or data.get("rated") == "no" or data.get("unlike")
                    or data.get("min_score") is not None or data.get("max_score") is not None)

    def filter_rated(self, rows, name, value: str):
        return rows.filter(trailer__rating_count__gt=0) if value == "yes" else rows.filter(trailer__rating_count=0)

    def filter_unlike(self, rows, name, value: str):
        return rows.filter(Prediction.LOOKS_UNLIKE) if value == "yes" else rows.filter(novelty__lt=UNLIKE)

    def order(self, rows, name, value: str):
        return selectors.sort_predictions(rows, value)


VERSION_PATTERN = r"^(active|[1-9][0-9]{0,17})$"  # "active", or an id (at most 18 digits: always a database id)


class PredictionListFilterSet(PredictionFilterSet):
    """``GET /api/predictions/``: the predictions page's filters, and which version and which trailer."""

    version = _documented({"type": "string", "pattern": VERSION_PATTERN, "minLength": 1},
                          RegexFilter(regex=VERSION_PATTERN,
                                      error_messages={"invalid": "Give a model version id or 'active'."},
                                      method="filter_version",
                                      help_text="a model version id, or 'active' (default: every version)"))
    trailer = _documented({"type": "integer", "minimum": 1, "maximum": selectors.MAX_ID, "format": "int64"},
                          IdFilter(field_name="trailer", help_text="a trailer's id"))

    def filter_version(self, rows, name, value: str):
        if value == "active":
            version = selectors.active_model_version()
            return rows.filter(model_version=version) if version is not None else rows.none()
        return rows.filter(model_version=int(value))


# --- runs -------------------------------------------------------------------------------------------------------


class RunFilterSet(_ListFilterSet):
    """The runs page's and ``GET /api/runs/``'s filters and order."""

    status = df.ChoiceFilter(choices=TrainingRun.Status.choices, empty_label="any", label="Status",
                             help_text="where the run is")
    preset = df.ChoiceFilter(choices=[(p, p) for p in PRESET_NAMES], empty_label="any", label="Preset",
                             help_text="the preset whose model options the run has (custom: none's)")
    sort = _sort([(key, label) for key, (label, _) in selectors_runs.RUN_SORTS.items()],
                 "-created (newest first, the default), created, mae (held-out MAE, best first), -mae")

    class Meta:
        model = TrainingRun
        fields: list[str] = []

    def order(self, runs, name, value: str):
        return selectors_runs.sort_runs(runs, value)


# --- the API ----------------------------------------------------------------------------------------------------


class ListFilters(DjangoFilterBackend):
    """The API's lists, filtered by their view's ``filterset_class``. A value the FilterSet cannot read is a 400
    naming its parameter; a range that cannot match is no bad input: the list it leaves is empty, as on the page."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        refused = {name: list(errors) for name, errors in filterset.errors.items() if name != NON_FIELD_ERRORS}
        if refused:
            raise ValidationError(refused)
        return filterset.qs
