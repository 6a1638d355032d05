"""Pages. Views read through selectors and write through services; nothing else.

Live parts are htmx partials of the same views: a request from htmx gets the
fragment it asked for (which carries its own polling trigger while there is
something to wait for), any other request gets the whole page.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetView
from django.core.exceptions import PermissionDenied, SuspiciousFileOperation, SuspiciousOperation, ValidationError
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import parse_etags
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from . import charts, run_forms, selectors, selectors_runs, services, store, throttles, uploads
from .bodies import takes_files
from .downloads import csv_download
from .errors import ServiceError, show
from .filters import PredictionFilterSet, RunFilterSet, TrailerFilterSet
from .forms import SignUpForm, UploadForm
from .media import login_or_token_required, serve_file, serve_stored
from .models import Trailer, TrainingRun
from .paging import IdsFirstPaginator
from .permissions import CANCEL_RUN, DELETE_TRAILER, REFUSALS, can, can_change_trailer
from .services.ingest import too_large_message
from .services.training import request_cancel

PAGE_SIZE = 50


def password_reset(request):
    """A new password by email, where the site sends email (EMAIL_URL); elsewhere a page that says how else to get
    one, rather than saying a message went that never could."""
    if not settings.SENDS_EMAIL:
        return render(request, "registration/password_reset_unavailable.html")
    return PasswordResetView.as_view()(request)


def signup(request):
    if not settings.SIGNUP_ENABLED:
        raise Http404("Sign-up is turned off on this site.")
    if request.user.is_authenticated:
        return redirect("dataset")
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        refusal = throttles.signup_refusal(request)
        if refusal is None:
            user = form.save()
            login(request, user)
            messages.success(request, f"Welcome, {user.username}: your account is ready.")
            return redirect("dataset")
        form.add_error(None, refusal)
        status = 429
    return render(request, "registration/signup.html", {"form": form}, status=status)


def _page(request, rows, size: int = PAGE_SIZE, *, count: int | None = None):
    """A page of ``rows``; ``count``, when known already, spares the paginator its count."""
    paginator = IdsFirstPaginator(rows, size)
    if count is not None:
        paginator.count = count
    return paginator.get_page(_page_number(request.GET.get("page"), paginator))


def _page_number(raw, paginator) -> int | str | None:
    """``page`` for a page: "last" is the last page, as the API reads it; a number under 1 is the first (Django's
    get_page gave the last for it, as for one past the end; the API refuses it with a 400, where pages forgive bad
    input as they forgive bad filters). Anything else is the paginator's to read."""
    if raw == "last":
        return paginator.num_pages
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return raw


def _filters(request, filterset, queryset):
    """A list page's filters on ``queryset``; each value of the query they cannot read is said on the page (a
    warning: the list is shown without it)."""
    filters = filterset(request.GET, queryset=queryset, request=request)
    if not request.htmx:
        for words in filters.left_out():
            messages.warning(request, words)
    return filters


# --- dataset ----------------------------------------------------------------------------------


@login_required
@require_GET
def dataset(request):
    filters = _filters(request, TrailerFilterSet, selectors.trailer_list(user=request.user))
    page = _page(request, filters.qs)
    context = {"form": filters.form, "page": page, "trailers": page.object_list,
               "active_version": selectors.active_model_version()}
    return render(request, "trailers/dataset.html", context)


# --- upload -----------------------------------------------------------------------------------


def _ingest(request, upload) -> tuple[Trailer | None, services.IngestError | None]:
    refusal = throttles.upload_refusal(request)
    if refusal:
        return None, services.IngestError(refusal, code="throttled")
    try:
        trailer = services.ingest_trailer(source=upload, original_name=upload.name, user=request.user,
                                          size=upload.size)
    except services.IngestError as error:
        return None, error
    return trailer, None


@login_required
@csrf_exempt  # the size limit must be in place before the body is parsed; CSRF is checked just after
@takes_files(lambda: None)  # any number of files, each counted against TRAILER_MAX_BYTES as it arrives
def upload(request):
    """The upload page. Its script uploads each file through the API (``POST /api/trailers/``), with a progress
    bar each; its plain form (no JavaScript) posts every file here in one request."""
    if request.method == "POST":
        uploads.install(request)
    return _upload_page(request)


@csrf_protect
def _upload_page(request):
    if request.method == "POST":
        files = request.FILES.getlist("files")  # parses the body, through the size limit
        for name, _ in uploads.too_large_uploads(request):
            messages.error(request, f"{name or 'A file'} was refused: {too_large_message()}")
        if not files and not uploads.too_large_uploads(request):
            messages.error(request, "Choose at least one trailer file to upload.")
        for upload_file_ in files:
            trailer, error = _ingest(request, upload_file_)
            if error:
                show(request, error, prefix=f"{upload_file_.name} was refused: ")
            else:
                messages.success(request, f"{upload_file_.name} was uploaded as “{trailer.title}”; it is queued for "
                                          "processing.")
        return redirect("upload")
    return render(request, "trailers/upload.html", {
        "form": UploadForm(), "max_bytes": settings.TRAILER_MAX_BYTES,
    })


# --- one trailer --------------------------------------------------------------------------------


@login_required
@require_GET
def trailer_detail(request, pk: int):
    page = selectors.trailer_page(pk=pk, user=request.user)
    return render(request, "trailers/trailer.html", {
        "p": page, "trailer": page.trailer, "scores": range(1, 11),
        "can_change": can_change_trailer(request.user, page.trailer),
        "can_delete": can_change_trailer(request.user, page.trailer, DELETE_TRAILER),
    })


@login_required
@require_GET
def trailer_live(request, pk: int):
    """The part of the trailer page that follows processing (polled by htmx until ready or failed)."""
    page = selectors.trailer_page(pk=pk, user=request.user)
    return render(request, "trailers/_trailer_live.html", {"p": page, "trailer": page.trailer,
                                                            "can_change": can_change_trailer(request.user, page.trailer)})


@login_required
@require_POST
def trailer_rating(request, pk: int):
    """Set (``score``) or clear (``clear``) my rating; htmx gets the rating block back, a form gets a redirect."""
    trailer = selectors.get_trailer(pk=pk)
    status = 200
    refusal = throttles.rating_refusal(request)
    if refusal:
        messages.error(request, refusal)
        status = 429
    elif "clear" in request.POST:
        if services.delete_rating(user=request.user, trailer=trailer):
            messages.success(request, f"Your rating of “{trailer.title}” was removed.")
        else:
            messages.info(request, f"You had not rated “{trailer.title}”.")
    else:
        try:
            rating = services.rate_trailer(user=request.user, trailer=trailer, score=request.POST.get("score"))
        except ValidationError as error:
            messages.error(request, " ".join(error.message_dict.get("score", error.messages)))
            status = 400
        except ServiceError as error:  # deleted meanwhile: as if it had been gone when asked
            raise Http404(error.message) from None
        else:
            messages.success(request, f"Saved: you rated “{trailer.title}” {rating.score}/10.")
    if not request.htmx:
        return redirect("trailer_detail", pk=pk)
    page = selectors.trailer_page(pk=pk, user=request.user)
    return render(request, "trailers/_rating.html", {"p": page, "trailer": page.trailer, "scores": range(1, 11),
                                                     "oob": True}, status=status)


@login_or_token_required
@require_safe
def trailer_video(request, pk: int):
    """What the page's player plays: the browser copy where there is one, else the file itself."""
    trailer = selectors.get_trailer(pk=pk)
    return serve_file(request, trailer.browser_copy or trailer.file)


@login_or_token_required
@require_safe
def trailer_original(request, pk: int):
    """The uploaded file itself, as a download under the name it was uploaded with."""
    trailer = selectors.get_trailer(pk=pk)
    return serve_file(request, trailer.file, download_name=trailer.original_name)


SHEET_MAX_AGE = 7 * 24 * 3600  # a contact sheet never changes under its name: preprocessing again makes new ones


def _contact_sheet(request, subclip):
    """A contact sheet the browser keeps: cached for a week, and revalidated by its ETag (the subclip and the
    sheet's stored name) without opening the file, so that a dataset page's 50 thumbnails cost 50 quick 304s
    at most, usually nothing."""
    tag = hashlib.sha1(f"{subclip.pk}:{subclip.contact_sheet.name}".encode()).hexdigest()[:20]
    etag = f'"sheet-{tag}"'
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
    else:
        response = serve_file(request, subclip.contact_sheet, content_type="image/jpeg")
    response["ETag"] = etag
    response["Cache-Control"] = f"private, max-age={SHEET_MAX_AGE}"
    return response


@login_or_token_required
@require_safe
def trailer_thumbnail(request, pk: int):
    subclip = selectors.first_contact_sheet(trailer_pk=pk)
    if subclip is None:
        raise Http404("This trailer has no contact sheet yet.")
    return _contact_sheet(request, subclip)


@login_or_token_required
@require_safe
def subclip_sheet(request, pk: int):
    return _contact_sheet(request, selectors.get_subclip(pk=pk))


@login_or_token_required
@require_safe
def media_file(request, name: str):
    """A stored file, for staff who may view the rows that name it (the admin links to them; a file no row names, for
    superusers only); pages use the views above."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can open stored files directly.")
    owner = selectors.stored_file_owner(name)
    if not (request.user.is_superuser or owner and request.user.has_perm(
            f"{owner._meta.app_label}.view_{owner._meta.model_name}")):
        raise PermissionDenied(f"You need the permission to view {owner._meta.verbose_name_plural} to open this file."
                               if owner else "Only superusers can open a stored file that no row names.")
    try:
        there = store.exists(name)
    except (SuspiciousFileOperation, SuspiciousOperation):
        raise Http404("No such file.") from None
    except store.StoreUnavailable:
        return HttpResponse("The media store cannot be reached just now.", status=503, content_type="text/plain")
    if not there:
        raise Http404("The file is missing from storage.")
    return serve_stored(request, default_storage, name)


# --- runs ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def runs(request):
    filters = _filters(request, RunFilterSet, selectors_runs.runs())
    page = _page(request, filters.qs, size=25)
    context = {"page": page, "runs": page.object_list, "form": filters.form,
               "live": any(not run.is_finished for run in page.object_list)}
    template = "trailers/_runs_table.html" if request.htmx else "trailers/runs.html"
    return render(request, template, context)


def _run_context(run: TrainingRun, estimate: dict) -> dict:
    epochs = run.train_config.get("epochs")
    cross_validated = selectors.is_cross_validated(run)
    history = selectors.epoch_history(run)
    # Only a run without folds picks an epoch on what it reports (its validation split).
    best = None if cross_validated else min((m for m in run.metrics if m.get("val_mae") is not None),
                                            key=lambda m: m["val_mae"], default=None)
    version = getattr(run, "model_version", None) if run.status == TrainingRun.Status.SUCCEEDED else None
    split = selectors.run_split(run, estimate)
    folds = selectors.run_folds(run, estimate)
    return {
        "run": run, "charts": charts.run_charts(history, cross_validated=cross_validated),
        "history": history, "split": split, "dataset_summary": selectors.dataset_summary(split, run),
        "duration": selectors.run_duration_seconds(run),
        "epochs": epochs, "best": best, "last": run.metrics[-1] if run.metrics else None,
        "cross_validated": cross_validated, "folds": folds, "in_refit": selectors.in_refit(run, folds),
        "fold": selectors.current_fold(run), "cv": selectors.cross_validation(run, estimate), "version": version,
        "comparison": (version.metrics.get("comparison") if version else None),
        "selects_epoch": bool(run.train_config.get("restore_best")
                              or run.train_config.get("early_stopping_patience") is not None),
        "frames": selectors.run_frames(run),
        "model_rows": run_forms.config_rows(run.model_config), "train_rows": run_forms.config_rows(run.train_config),
    }


@login_required
@require_GET
def run_detail(request, pk: int):
    run, estimate = selectors.run_page(pk=pk)
    context = _run_context(run, estimate)
    if request.htmx:
        # The page's notices were written when the run had the status it was shown with ("Run #2 is queued…"):
        # once it has moved on they are out of date, and the live part clears them.
        shown = request.GET.get("shown")
        context["clear_notices"] = bool(shown) and shown != run.display_status
        return render(request, "trailers/_run_live.html", context)
    return render(request, "trailers/run.html", context)


def navigate(request, to, *args, **kwargs):
    """The redirect that ends a form's POST. A form htmx sent (one that asks first, with ``hx-confirm``) gets
    HX-Redirect instead, so the browser loads the page, with its messages, rather than htmx swapping it in."""
    url = resolve_url(to, *args, **kwargs)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_POST
def run_cancel(request, pk: int):
    if not can(request.user, CANCEL_RUN):
        raise PermissionDenied(REFUSALS[CANCEL_RUN])
    cancellation = request_cancel(run=selectors.get_run(pk=pk))
    (messages.info if cancellation.already_finished else messages.success)(request, cancellation.message)
    return navigate(request, "run_detail", pk=cancellation.run.pk)


# --- predictions ----------------------------------------------------------------------------------------


def _chosen_version(request):
    """The version the page is of: ``version`` as the API's filter reads it, "active" or a version's id (404 for
    one that is not there, or no id at all: the page is that version's, not a list a bad filter value widens)."""
    raw = request.GET.get("version", "")
    if raw and raw != "active":
        return selectors.get_model_version(pk=raw)
    return selectors.active_model_version()


@login_required
@require_GET
def predictions(request):
    version = _chosen_version(request)
    context = {"version": version, "versions": selectors.model_versions()}
    if version is None:
        return render(request, "trailers/predictions.html", context)
    if request.htmx and request.GET.get("partial") == "progress":
        progress = selectors.scoring_counts(model_version=version)
        if not progress.scoring:
            return HttpResponseClientRefresh()  # scoring is done: reload to show every prediction
        return render(request, "trailers/_scoring_progress.html", {"version": version, "progress": progress})
    filters = _filters(request, PredictionFilterSet, selectors.predictions(model_version=version))
    report = selectors.predictions_report(model_version=version, rows=filters.qs, narrowed=filters.narrowed)
    page = _page(request, filters.qs, count=report.matched)
    # An empty table under the unlike filter says why when the version keeps no novelty at all.
    unmeasured = (not page.object_list and bool(filters.checked().get("unlike"))
                  and not selectors.keeps_novelty(model_version=version))
    # A version that has scored nothing yet (never activated): its figures are empty, and the page says why
    # (asked of its rows, not of its kept count, which the sweep brings up to date later).
    unscored = not version.is_active and not selectors.has_predictions(model_version=version)
    context.update(
        form=filters.form, report=report, page=page, rows=page.object_list, csv_query=request.GET.urlencode(),
        unmeasured=unmeasured, unscored=unscored,
        scatter=charts.scatter_chart(report.scatter_points, x_label="mean user rating", y_label="predicted rating",
                                     label=f"Predicted against rated, {version}", filtered=filters.form.is_filtered),
    )
    return render(request, "trailers/predictions.html", context)


@login_required
@require_GET
def predictions_csv(request):
    version = _chosen_version(request)
    if version is None:
        messages.error(request, "No model version is active, so there are no predictions to download.")
        return redirect("predictions")
    rows = PredictionFilterSet(request.GET, queryset=selectors.predictions(model_version=version), request=request).qs
    return csv_download(columns=selectors.PREDICTION_CSV_COLUMNS, rows=selectors.prediction_csv_rows(rows),
                        filename=f"reelscore-predictions-v{version.number}.csv")
