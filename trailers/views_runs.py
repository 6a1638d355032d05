"""Runs and versions: compare runs, staff's notes, a version's page, activation that warns when the new version
is worse on the same held-out trailers, one-click rollback, and two versions compared trailer by trailer."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from . import charts, selectors, selectors_runs
from .errors import ServiceError, show
from .forms import RunNoteForm
from .permissions import ACTIVATE_VERSION, CANCEL_RUN, REFUSALS, can
from .selectors_runs import compare_with_active
from .services import WorseThanActive, activate_chosen
from .services.notes import set_run_note
from .services.versions import rollback

MAX_COMPARED = 8


@login_required
@require_GET
def runs_compare(request):
    asked = selectors_runs.parse_ids(request.GET.getlist("runs"))
    ids = sorted(asked[:MAX_COMPARED])  # oldest on the left
    comparison = selectors_runs.compare_runs(ids)
    if len(asked) > MAX_COMPARED and len(comparison.runs) >= 2:
        extra = asked[MAX_COMPARED:]
        left_out = ", ".join(f"#{pk}" for pk in extra[:MAX_COMPARED]) + (
            f" and {len(extra) - MAX_COMPARED} more" if len(extra) > MAX_COMPARED else "")
        messages.warning(request, f"At most {MAX_COMPARED} runs are compared at once: the first {MAX_COMPARED} "
                                  f"ticked are here, and {left_out} left out.")
    if len(comparison.runs) < 2:
        found = {compared.run.pk for compared in comparison.runs}
        gone = [pk for pk in ids if pk not in found]
        messages.error(request, (f"No run has the id{'s' * (len(gone) > 1)} {', '.join(map(str, gone))}. " if gone
                                 else "") + "Tick two runs or more in the list to compare them.")
        return redirect("runs")
    return render(request, "trailers/compare_runs.html", {
        "comparison": comparison, "charts": charts.compare_charts(comparison.runs),
        "figures": selectors_runs.COMPARED_FIGURES,
    })


@login_required
@require_POST
def run_note(request, pk: int):
    """Staff with the permission to change runs keep a note on one."""
    if not can(request.user, CANCEL_RUN):
        raise PermissionDenied("You need the permission to change training runs to note one.")
    run = selectors.get_run(pk=pk)
    form = RunNoteForm(request.POST)
    if form.is_valid():
        run = set_run_note(run=run, note=form.cleaned_data["note"])
        messages.success(request, f"The note on {run} was saved." if run.note else f"The note on {run} was removed.")
    else:
        messages.error(request, " ".join(form.errors.get("note", ["The note was refused."])))
    return redirect("run_detail", pk=run.pk)


# --- versions -------------------------------------------------------------------------------------------


@login_required
@require_GET
def versions(request):
    return render(request, "trailers/versions.html", {
        "versions": selectors.model_versions(), "active": selectors.active_model_version(),
        "previous": selectors_runs.previous_version(), "can_activate": can(request.user, ACTIVATE_VERSION),
    })


@login_required
@require_GET
def version_detail(request, pk: int):
    version = selectors_runs.get_version(pk=pk)
    active = selectors.active_model_version()
    return render(request, "trailers/version.html", {
        "version": version, "active": active, "can_activate": can(request.user, ACTIVATE_VERSION),
        "comparison": compare_with_active(version) if active and active.pk != version.pk else None,
        "others": selectors.model_versions().exclude(pk=version.pk),
        "scored": selectors.scored_and_ready_counts(model_version=version),
    })


def _next_url(request, default: str) -> str:
    """The form's ``next``: a path on this site (Django's own check, as the login page's; a browser reads ``/\\host``
    as another site), else ``default``."""
    target = request.POST.get("next", "")
    safe = target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None)
    return target if safe else default


@login_required
@require_POST
def version_activate(request, pk: int):
    """Activate a version. When it is worse than the active one on the same held-out trailers, the page warns and
    asks again; ``confirm=1`` activates all the same."""
    if not can(request.user, ACTIVATE_VERSION):
        raise PermissionDenied(REFUSALS[ACTIVATE_VERSION])
    version = selectors_runs.get_version(pk=pk)
    back = _next_url(request, reverse("version_detail", args=[version.pk]))
    try:
        done = activate_chosen(model_version=version, confirm=request.POST.get("confirm") == "1")
    except WorseThanActive as worse:
        return render(request, "trailers/activate_confirm.html", {"version": version, "comparison": worse.comparison,
                                                                  "back": back}, status=409)
    except ServiceError as error:
        show(request, error)
        return redirect(back)
    if done.already_active:
        messages.info(request, f"Model version {version} is already the active one.")
    else:
        messages.success(request, f"Model version {version} is now active ({done.comparison['reason']}); every "
                                  "ready trailer is being scored with it.")
    return redirect(back)


@login_required
@require_POST
def version_rollback(request):
    if not can(request.user, ACTIVATE_VERSION):
        raise PermissionDenied(REFUSALS[ACTIVATE_VERSION])
    was = selectors.active_model_version()
    try:
        version = rollback()
    except ServiceError as error:
        show(request, error)
    else:
        messages.success(request, f"Rolled back: model version {version} is active again"
                                  f"{f' in place of {was}' if was else ''}; trailers it has not scored are being "
                                  "scored.")
    return redirect(_next_url(request, reverse("versions")))


@login_required
@require_GET
def versions_compare(request):
    ids = selectors_runs.parse_ids([request.GET.get("a", ""), request.GET.get("b", "")])
    if len(ids) != 2:
        messages.error(request, "Choose two different versions to compare.")
        return redirect("versions")
    a, b = (selectors_runs.get_version(pk=pk) for pk in ids)
    return render(request, "trailers/compare_versions.html", {
        "c": selectors_runs.compare_versions_by_trailer(a, b), "versions": selectors.model_versions(),
    })
