"""One's own uploads, from the trailer page: rename, delete (after a confirmation), retry a failed one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from . import selectors
from .errors import ServiceError, show
from .permissions import CHANGE_TRAILER, DELETE_TRAILER
from .services.trailers import delete_trailer, rename_trailer, retry_trailer
from .views import navigate


@login_required
@require_POST
def trailer_rename(request, pk: int):
    trailer = selectors.own_trailer(pk=pk, user=request.user, permission=CHANGE_TRAILER)
    before = trailer.title
    try:
        trailer = rename_trailer(trailer=trailer, title=request.POST.get("title", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.message_dict["title"]))
    else:
        if trailer.title != before:
            messages.success(request, f"Renamed “{before}” to “{trailer.title}”.")
    return redirect("trailer_detail", pk=trailer.pk)


@login_required
@require_POST
def trailer_delete(request, pk: int):
    trailer = selectors.own_trailer(pk=pk, user=request.user, permission=DELETE_TRAILER)
    try:
        delete_trailer(trailer=trailer)
    except ServiceError as error:
        show(request, error)
        return navigate(request, "trailer_detail", pk=trailer.pk)
    messages.success(request, f"“{trailer.title}” was deleted, with its file, frames, ratings and predictions.")
    return navigate(request, "dataset")


@login_required
@require_POST
def trailer_retry(request, pk: int):
    trailer = selectors.own_trailer(pk=pk, user=request.user, permission=CHANGE_TRAILER)
    try:
        retry_trailer(trailer=trailer)
    except ServiceError as error:
        messages.info(request, error.message)
    else:
        messages.success(request, f"“{trailer.title}” is queued to be processed again.")
    return redirect("trailer_detail", pk=trailer.pk)
