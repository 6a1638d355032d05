"""The pages' own forms (the lists' filters are trailers/filters.py's FilterSets)."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from trailers.services.notes import NOTE_MAX
from trailers.throttles import count_wrong_password, password_refusal


class RefusesGuessing:
    """An authentication form that checks no password once the client's address has used up its attempts, and
    counts each wrong one (``trailers.throttles``: the login page, the admin's login and the API's token share
    them)."""

    def clean(self):
        if self.request is None or not (self.cleaned_data.get("username") and self.cleaned_data.get("password")):
            return super().clean()
        refusal = password_refusal(self.request)
        if refusal:
            raise ValidationError(refusal, code="throttled")
        try:
            return super().clean()
        except ValidationError:
            count_wrong_password(self.request)
            raise


class LoginForm(RefusesGuessing, AuthenticationForm):
    """The login form, its refusal in the site's words (the page shows it once)."""

    error_messages = {**AuthenticationForm.error_messages,
                      "invalid_login": "Your username and password didn't match. Please try again (both are "
                                       "case-sensitive)."}
    ERROR_ID = "login-error"  # the page's refusal: the fields point to it, so the focused one reads it out

    def full_clean(self):
        super().full_clean()
        if self.is_bound and self.non_field_errors():
            for name in ("username", "password"):
                self.fields[name].widget.attrs.update({"aria-invalid": "true", "aria-describedby": self.ERROR_ID})


class AdminLoginForm(RefusesGuessing, AdminAuthenticationForm):
    """The admin's login form (``admin.site.login_form``)."""


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=False, widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    class Meta:
        model = User
        fields = ("username", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs["autocomplete"] = "username"  # as the login form's: browsers fill it


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class UploadForm(forms.Form):
    """The upload page's plain form (the page's script sends the files one request each instead)."""

    files = forms.FileField(widget=MultipleFileInput(attrs={"multiple": True, "accept": "video/*"}),
                            required=False, label="Trailer files")


class RunNoteForm(forms.Form):
    note = forms.CharField(required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 3}),
                           label="Note", help_text="For the team: what this run tried, what came of it.")
