from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User

from . import selectors, selectors_runs
from .models import Trailer, TrainingRun
from .presets import PRESET_NAMES


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=False)

    class Meta:
        model = User
        fields = ("username", "email")


YES_NO = [("", "any"), ("yes", "yes"), ("no", "no")]


class _FilterForm(forms.Form):
    """A GET form whose sort select shows the sort in force when the query names none."""

    default_sort = ""

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and not data.get("sort"):
            data = data.copy()
            data["sort"] = self.default_sort
        super().__init__(data, *args, **kwargs)


# What each sort is called in the Sort select: the heading of its column on the page.
TRAILER_SORT_LABELS = {
    "uploaded": "Uploaded", "title": "Title", "status": "Status", "duration": "Duration", "mean": "Mean rating",
    "count": "Ratings", "mine": "Yours", "reference": "Reference", "predicted": "Predicted",
}
PREDICTION_SORT_LABELS = {
    "title": "Trailer", "predicted": "Predicted", "spread": "Spread", "mean": "Mean rating", "count": "Ratings",
    "reference": "Reference", "error": "Error",
}


def _sort_choices(sorts: dict[str, str], labels: dict[str, str]) -> list[tuple[str, str]]:
    choices = []
    for key in sorts:
        label = labels.get(key, key.capitalize())
        choices += [(key, f"{label} ↑"), (f"-{key}", f"{label} ↓")]
    return choices


class TrailerFilterForm(_FilterForm):
    """The dataset page's filters (GET). Unknown values are dropped rather than failing the page."""

    default_sort = selectors.DEFAULT_TRAILER_SORT

    q = forms.CharField(required=False, max_length=200, label="Search",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "title"}))
    status = forms.ChoiceField(required=False, choices=[("", "any")] + list(Trailer.Status.choices))
    rated = forms.ChoiceField(required=False, choices=YES_NO, label="Rated by me")
    predicted = forms.ChoiceField(required=False, choices=YES_NO, label="Has prediction")
    sort = forms.ChoiceField(required=False, choices=_sort_choices(selectors.TRAILER_SORTS, TRAILER_SORT_LABELS))

    def filters(self) -> selectors.TrailerFilters:
        self.is_valid()  # an invalid value is dropped: cleaned_data keeps the valid ones
        data = self.cleaned_data
        return selectors.TrailerFilters(
            status=data.get("status") or "", rated=data.get("rated") or "", predicted=data.get("predicted") or "",
            q=(data.get("q") or "").strip(), sort=data.get("sort") or selectors.DEFAULT_TRAILER_SORT,
        )


class PredictionFilterForm(_FilterForm):
    default_sort = selectors.DEFAULT_PREDICTION_SORT
    q = forms.CharField(required=False, max_length=200, label="Search",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "title"}))
    rated = forms.ChoiceField(required=False, choices=YES_NO, label="Has ratings")
    min_score = forms.FloatField(required=False, label="Predicted from", widget=forms.NumberInput(attrs={"step": "0.1"}))
    max_score = forms.FloatField(required=False, label="to", widget=forms.NumberInput(attrs={"step": "0.1"}))
    sort = forms.ChoiceField(required=False, choices=_sort_choices(selectors.PREDICTION_SORTS, PREDICTION_SORT_LABELS))

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
        return any(self.data.get(name) for name in ("q", "rated", "min_score", "max_score"))

    def filters(self) -> selectors.PredictionFilters:
        self.is_valid()  # an invalid value is dropped: cleaned_data keeps the valid ones
        data = self.cleaned_data
        return selectors.PredictionFilters(
            q=(data.get("q") or "").strip(), rated=data.get("rated") or "",
            min_score=data.get("min_score"), max_score=data.get("max_score"),
            sort=data.get("sort") or selectors.DEFAULT_PREDICTION_SORT,
        )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class UploadForm(forms.Form):
    """The upload page's plain form (the page's script sends the files one request each instead)."""

    files = forms.FileField(widget=MultipleFileInput(attrs={"multiple": True, "accept": "video/*"}),
                            required=False, label="Trailer files")


class RunFilterForm(forms.Form):
    """The runs list's filters and order (GET); unknown values are dropped."""

    status = forms.ChoiceField(required=False, choices=[("", "any")] + list(TrainingRun.Status.choices))
    preset = forms.ChoiceField(required=False, choices=[("", "any")] + [(p, p) for p in PRESET_NAMES])
    sort = forms.ChoiceField(required=False, choices=[(k, label) for k, (label, _) in selectors_runs.RUN_SORTS.items()])

    def filters(self) -> selectors_runs.RunFilters:
        self.is_valid()
        data = self.cleaned_data
        return selectors_runs.RunFilters(status=data.get("status") or "", preset=data.get("preset") or "",
                                         sort=data.get("sort") or selectors_runs.DEFAULT_RUN_SORT)


class RunNoteForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                           label="Note", help_text="For the team: what this run tried, what came of it.")
