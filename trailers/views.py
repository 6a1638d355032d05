"""Pages. Views read through selectors and write through services; nothing else."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from .forms import SignUpForm
from .models import Trailer


def signup(request):
    if not settings.SIGNUP_ENABLED:
        raise Http404("Sign-up is turned off on this site.")
    if request.user.is_authenticated:
        return redirect("dataset")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        messages.success(request, f"Welcome, {user.username}: your account is ready.")
        return redirect("dataset")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def dataset(request):
    trailers = Trailer.objects.all()[:100]
    return render(request, "trailers/dataset.html", {"trailers": trailers})
