"""Admin for every model, and staff's controls: start, cancel and follow training runs,
activate model versions, score trailers. What the system computes is read-only here;
every action goes through a service, and records what it changed in the object's history
(``log_addition`` / ``log_change``), as the admin's own forms do.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import smart_split
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from . import run_forms, selectors, services
from .errors import ServiceError, show
from .filters import SEARCH_MAX_LENGTH
from .forms import AdminLoginForm
from .models import ApiToken, ModelVersion, Prediction, Rating, Subclip, Trailer, TrainingRun
from .paging import AdminPaginator, EstimatedCountPaginator
from .permissions import ACTIVATE_VERSION, CANCEL_RUN, DELETE_RUN, START_RUN, can
from .run_forms import PRESET_DESCRIPTIONS, PRESET_WARNINGS, STARTABLE_PRESETS, TrainingRunForm
from .services.trailers import delete_trailer, refuse_deleting_busy, rename_trailer
from .services.training import request_cancel, unknown_trailer_ids
from .words import mean_sd, percent, score

SEARCH_WORDS = 20

# Rows a page of the admin's largest lists (trailers, predictions) shows: drawing one costs the server about
# 0.35 ms, so Django's 100 took 70 ms a page (bench/scale.py, 50,000 trailers).
ADMIN_PAGE = 50

# Its password attempts count against the login page's and the API token's (trailers.throttles).
admin.site.login_form = AdminLoginForm


class BoundedSearch:
    """The admin's search reads at most SEARCH_WORDS words and SEARCH_MAX_LENGTH characters, as the site's own
    searches do: Django's makes a condition per word and field, and on SQLite a thousand words were an "Expression
    tree is too large" error (a 500). A longer search is cut, and the page says so."""

    def get_search_results(self, request, queryset, search_term):
        words = list(smart_split(search_term))  # Django's own split: a quoted phrase is one word
        bounded = " ".join(words[:SEARCH_WORDS])[:SEARCH_MAX_LENGTH]
        if bounded != " ".join(words):
            self.message_user(request, f"The search was cut to “{bounded}”: it reads at most {SEARCH_WORDS} words and "
                              f"{SEARCH_MAX_LENGTH} characters.", messages.WARNING)
        return super().get_search_results(request, queryset, bounded)


class SubclipInline(admin.TabularInline):
    model = Subclip
    extra = 0
    can_delete = False
    fields = ("index", "start", "duration", "frame_count", "frames", "contact_sheet")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class RefusedDeletes:
    """A model admin whose delete page and list action first ask a service whether the rows may go
    (``refuse_delete``, a ServiceError when not): the refusal is shown and nothing is deleted, before Django's
    confirmation page. ``delete_queryset`` deletes through the service (``delete_rows``), which asks again under
    its lock."""

    def refuse_delete(self, queryset) -> None:
        raise NotImplementedError

    def delete_rows(self, ids: list[int]) -> None:
        """Delete these rows through the service (which refuses, under its lock, what may not go)."""
        raise NotImplementedError

    def delete_model(self, request, obj):
        self.delete_queryset(request, self.model.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        try:
            self.delete_rows(list(queryset.values_list("pk", flat=True)))
        except ServiceError as error:  # changed since the page asked (its check ran before the service's lock)
            show(request, error)

    def delete_view(self, request, object_id, extra_context=None):
        row = self.get_object(request, unquote(object_id))
        if row is not None:
            try:
                self.refuse_delete(self.model.objects.filter(pk=row.pk))
            except ServiceError as error:
                show(request, error)
                opts = self.model._meta
                return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]))
        return super().delete_view(request, object_id, extra_context)

    @admin.action(description="Delete selected %(verbose_name_plural)s", permissions=["delete"])
    def delete_selected(self, request, queryset):
        try:
            self.refuse_delete(queryset)
        except ServiceError as error:
            show(request, error)
            return None
        return django_delete_selected(self, request, queryset)


@admin.register(Trailer)
class TrailerAdmin(BoundedSearch, RefusedDeletes, admin.ModelAdmin):
    list_display = ("title", "status", "duration", "width", "height", "codec", "reference_score", "rating_count",
                    "mean_rating", "uploaded_by", "uploaded_at")
    # Named, because a bare select_related() leaves out nullable foreign keys: one user lookup per row otherwise.
    list_select_related = ("uploaded_by",)
    show_full_result_count = False
    paginator = AdminPaginator
    list_per_page = ADMIN_PAGE
    list_filter = ("status", "codec", "container", "has_audio")
    search_fields = ("title__uicontains", "original_name__uicontains", "sha256")  # any script's case (lookups.py)
    date_hierarchy = "uploaded_at"
    readonly_fields = (
        "file", "original_name", "uploaded_by", "uploaded_at", "duration", "fps", "width", "height", "codec",
        "container", "has_audio", "size_bytes", "sha256", "status", "error", "enqueued_at", "processing_started_at",
        "heartbeat_at", "processing_attempts", "processed_at", "rating_count", "rating_sum", "mean_rating",
        "browser_copy",
    )  # fmt: skip
    inlines = [SubclipInline]
    actions = ["train_on_these", "preprocess_again", "score_with_active_version", "delete_selected"]

    def has_add_permission(self, request):
        return False  # trailers come in through the upload page, the API or import_trailers

    def save_model(self, request, obj, form, change):
        """The title and the reference score are all the form changes, each through its service as the pages, the
        API and the import change them: a title another trailer has gets the file's kind."""
        if "title" in form.changed_data:
            rename_trailer(trailer=obj, title=form.cleaned_data["title"])
        if "reference_score" in form.changed_data:
            services.set_reference_score(trailer=obj, score=form.cleaned_data["reference_score"])

    # A trailer being processed is never deleted (its worker is writing its subclips): the delete page and the list's
    # delete action say so instead, as the trailer page does, and every deletion goes through ``delete_trailer``.
    def refuse_delete(self, queryset) -> None:
        refuse_deleting_busy(trailers=queryset)

    def delete_queryset(self, request, queryset):
        for trailer in queryset:  # one by one: a trailer a worker took since the page asked stays, the rest go
            try:
                delete_trailer(trailer=trailer)
            except ServiceError as error:
                show(request, error)

    def has_start_run_permission(self, request):
        return can(request.user, START_RUN)

    def has_activate_permission(self, request):
        return can(request.user, ACTIVATE_VERSION)

    @admin.action(description="Train on these (start a training run with the selected trailers)",
                  permissions=["start_run"])
    def train_on_these(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(f"{reverse('admin:trailers_trainingrun_add')}?trailers={ids}")

    @admin.action(description="Preprocess again", permissions=["change"])
    def preprocess_again(self, request, queryset):
        queued, busy = services.request_preprocessing(trailer_ids=queryset.values_list("pk", flat=True))
        for trailer in queryset.filter(status=Trailer.Status.QUEUED):
            self.log_change(request, trailer, "Queued to be preprocessed again.")
        self.message_user(request, f"{queued} trailer(s) queued for preprocessing.", messages.SUCCESS)
        if busy:
            self.message_user(request, f"{busy} trailer(s) skipped: they are being processed right now.",
                              messages.WARNING)

    @admin.action(description="Score with the active model version", permissions=["activate"])
    def score_with_active_version(self, request, queryset):
        active = selectors.active_model_version()
        if active is None:
            self.message_user(request, "No model version is active: activate one first.", messages.ERROR)
            return
        services.enqueue_scoring(model_version_id=active.pk, trailer_ids=list(queryset.values_list("pk", flat=True)))
        for trailer in queryset:
            self.log_change(request, trailer, f"Queued to be scored with {active}.")
        self.message_user(request, f"Scoring {queryset.count()} trailer(s) with {active}.", messages.SUCCESS)


@admin.register(Subclip)
class SubclipAdmin(BoundedSearch, admin.ModelAdmin):
    list_display = ("trailer", "index", "start", "duration", "frame_count", "created_at")
    list_select_related = ("trailer",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    search_fields = ("trailer__title__uicontains",)
    readonly_fields = [f.name for f in Subclip._meta.fields]

    def has_add_permission(self, request):
        return False


class ScoreFilter(admin.SimpleListFilter):
    """Scores 1–10, listed as they are rather than found with SELECT DISTINCT over millions of ratings."""

    title = "score"
    parameter_name = "score__exact"

    def lookups(self, request, model_admin):
        return [(str(score), str(score)) for score in range(1, 11)]

    def queryset(self, request, queryset):
        return queryset.filter(score=int(self.value())) if self.value() in {str(n) for n in range(1, 11)} else queryset


@admin.register(Rating)
class RatingAdmin(BoundedSearch, admin.ModelAdmin):
    """Ratings are written through the ratings service here too, so that their trailers' counters follow."""

    list_display = ("trailer", "user", "score", "updated_at")
    list_filter = (ScoreFilter,)
    search_fields = ("trailer__title__uicontains", "user__username")
    raw_id_fields = ("trailer", "user")
    list_select_related = ("trailer", "user")
    ordering = ("-updated_at", "-id")  # the (updated_at DESC, id DESC) index: millions of ratings, no sort
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_readonly_fields(self, request, obj=None):
        return ("user", "trailer") if obj is not None else ()  # a rating stays one person's, of one trailer

    def save_model(self, request, obj, form, change):
        saved = services.rate_trailer(user=obj.user, trailer=obj.trailer, score=obj.score)
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at

    def delete_model(self, request, obj):
        services.delete_ratings(rating_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        services.delete_ratings(rating_ids=list(queryset.values_list("pk", flat=True)))


@admin.register(TrainingRun)
class TrainingRunAdmin(BoundedSearch, RefusedDeletes, admin.ModelAdmin):
    """Runs are written by workers: the change view only shows a run. Staff start one with the add form
    and stop one with the cancel button or action; the run page (``run_detail``) follows its progress."""

    list_display = ("__str__", "shown_status", "progress_percent", "epoch", "label_source", "device", "created_by",
                    "created_at")
    list_filter = ("status", "label_source", "device")
    search_fields = ("worker", "error")
    actions = ["cancel_runs", "delete_selected"]
    change_form_template = "admin/trailers/trainingrun/change_form.html"
    fieldsets = [
        (None, {"fields": ["page_link", "shown_status", "progress_percent", "epoch", "error", "cancel_requested"]}),
        ("Options", {"fields": ["label_source", "min_ratings", "auto_activate", "model_config", "train_config",
                                "requested_trailer_ids"]}),
        ("Dataset", {"fields": ["dataset_summary", "sampling", "metrics"]}),
        ("Cross-validation", {"fields": ["estimate_summary"],
                              "description": "The held-out estimate: every figure is on trailers the scoring model "
                                             "never trained on. The run page shows it fold by fold; the API's "
                                             "/api/runs/<id>/ and /api/runs/<id>/dataset/ give all of it."}),
        ("Worker", {"fields": ["device", "worker", "resumed_from_epoch", "attempts_without_epoch", "checkpoint"]}),
        ("Times", {"fields": ["created_by", "created_at", "enqueued_at", "started_at", "heartbeat_at",
                              "finished_at"]}),
    ]
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]
    list_select_related = ("created_by",)

    def get_queryset(self, request):
        # A run's dataset and estimate are megabytes at scale: the list never shows them, and the run's page
        # reads its estimate alone (its dataset's size is columns).
        return super().get_queryset(request).defer(*TrainingRun.LARGE_FIELDS)

    @admin.display(description="status")
    def shown_status(self, run):
        return run.display_status

    @admin.display(description="progress")
    def progress_percent(self, run):
        return percent(run.progress)

    @admin.display(description="dataset")
    def dataset_summary(self, run):
        return selectors.dataset_summary(selectors.run_split(run), run)

    @admin.display(description="estimate")
    def estimate_summary(self, run):
        # Read without every trailer's held-out prediction: the whole estimate made this page 216 KB at 5,000
        # trailers, and it grows with them.
        estimate = selectors.cross_validation(run, selectors.run_estimate(run_id=run.pk))
        if estimate is None:
            if selectors.is_cross_validated(run):
                return "not yet: it is made when every fold is done"
            return "none: the run fit one model on a validation split (the epoch was chosen on it; flatters the model)"
        parts = []
        for row in estimate.summary:
            parts.append(f"{row.label}: MAE {mean_sd(row.mae)}, RMSE {mean_sd(row.rmse)}, "
                         f"Spearman {mean_sd(row.spearman)}")
        groups = ("near-duplicates not checked" if not estimate.duplicates_checked
                  else f"{len(estimate.groups)} near-duplicate group(s)")
        parts.append(f"{estimate.folds} folds of {estimate.trailers} trailers; {groups}")
        return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts))

    @admin.display(description="run page")
    def page_link(self, run):
        return format_html('<a href="{}">Open the run page</a>', reverse("run_detail", args=[run.pk]))

    def has_change_permission(self, request, obj=None):
        return False  # every field is the workers' to write: the change view shows the run, read-only

    def has_delete_permission(self, request, obj=None):
        """A finished run that made no version may go, with all it kept (services.delete_runs): its page offers
        Delete; the list's action names each run of a choice that may not go (``refuse_delete``), deleting none."""
        if obj is not None:
            try:
                services.refuse_deleting_runs(run_ids=[obj.pk])
            except ServiceError:
                return False
        return can(request.user, DELETE_RUN)

    def refuse_delete(self, queryset) -> None:
        services.refuse_deleting_runs(run_ids=queryset.values_list("pk", flat=True))

    def delete_rows(self, ids: list[int]) -> None:
        services.delete_runs(run_ids=ids)

    def has_cancel_permission(self, request, obj=None):
        """Cancelling changes a run (trailers.permissions: the same rule as the pages and the API)."""
        return can(request.user, CANCEL_RUN)

    def get_urls(self):
        urls = [path("<int:run_id>/cancel/", self.admin_site.admin_view(self.cancel_view),
                     name="trailers_trainingrun_cancel")]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_cancel": self.has_cancel_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """Every model and training option, starting from a preset; submitting starts the run and opens its page."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        preset = request.GET.get("preset", "default")
        initial = {"trailer_ids": request.GET.get("trailers", "")}
        like = selectors.find_run(pk=request.GET.get("like", ""))
        if like is None and request.GET.get("like") and request.method == "GET":
            self.message_user(request, f"There is no run #{request.GET['like']} to start like: the form holds the "
                                       f"{preset} preset's options.", messages.WARNING)
        if like is not None:  # "New run like this": every option of that run, to change from there
            preset = like.preset if like.preset in STARTABLE_PRESETS else "default"
            initial.update(run_forms.initial_from_run(like))
        form = TrainingRunForm(request.POST or None, preset=preset, initial=initial)
        run = None
        if request.method == "POST" and form.is_valid():
            try:
                run = services.start_training_run(
                    user=request.user, model_config=form.model_config, train_config=form.train_config,
                    label_source=form.cleaned_data["label_source"], min_ratings=form.cleaned_data["min_ratings"],
                    trailer_ids=form.cleaned_data["trailer_ids"] or None,
                    auto_activate=form.cleaned_data["auto_activate"],
                )  # fmt: skip
            except ServiceError as exc:  # said above the form, which keeps its values
                message = exc.message
                if exc.code == "unknown_trailers":  # deleted since they were picked: the form keeps the others
                    gone = set(unknown_trailer_ids(form.cleaned_data["trailer_ids"]))
                    kept = [pk for pk in form.cleaned_data["trailer_ids"] if pk not in gone]
                    data = request.POST.copy()
                    data["trailer_ids"] = ",".join(map(str, kept))
                    form = TrainingRunForm(data, preset=preset, initial=initial)
                    form.is_valid()
                    message += (f" The form now holds the other {len(kept)}: start it again to train on them."
                                if kept else " None of the trailers picked is left.")
                form.add_error(None, message)
        if run is not None:
            self.log_addition(request, run, f"Started from the admin (options: {run.preset or 'custom'}).")
            if run.status == TrainingRun.Status.FAILED:
                self.message_user(request, f"{run} could not start: {run.error}", messages.ERROR)
            else:
                self.message_user(request, f"{run} is queued: this page shows its progress as a worker trains it.",
                                  messages.SUCCESS)
            return redirect("run_detail", pk=run.pk)
        presets = [
            {"name": name, "description": PRESET_DESCRIPTIONS.get(name, ""), "warning": PRESET_WARNINGS.get(name, ""),
             "query": urlencode({"preset": name, **({"trailers": initial["trailer_ids"]} if initial["trailer_ids"]
                                                    else {})})}
            for name in STARTABLE_PRESETS
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Start a training run",
            "opts": self.model._meta,
            "form": form,
            "preset": form.preset,
            "presets": presets,
            "preset_warning": PRESET_WARNINGS.get(form.preset, ""),
            "trailer_ids": initial["trailer_ids"],
            "like": like,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/trailers/trainingrun/start.html", context)

    def cancel_view(self, request, run_id):
        run = selectors.get_run(pk=run_id)
        if request.method == "POST":
            if not self.has_cancel_permission(request, run):
                raise PermissionDenied
            cancellation = request_cancel(run=run)
            if not cancellation.already_finished:
                self.log_change(request, cancellation.run, cancellation.note)
            self.message_user(request, cancellation.message,
                              messages.INFO if cancellation.already_finished else messages.SUCCESS)
        return redirect("admin:trailers_trainingrun_change", run.pk)

    @admin.action(description="Cancel selected runs", permissions=["cancel"])
    def cancel_runs(self, request, queryset):
        cancelled = requested = 0
        for run in queryset.exclude(status__in=TrainingRun.FINISHED):
            cancellation = request_cancel(run=run)
            self.log_change(request, cancellation.run, cancellation.note)
            if cancellation.run.status == TrainingRun.Status.CANCELLED:
                cancelled += 1
            else:
                requested += 1
        finished = queryset.count() - cancelled - requested
        if cancelled:
            self.message_user(request, f"{cancelled} run(s) cancelled.", messages.SUCCESS)
        if requested:
            self.message_user(request, f"Cancel requested for {requested} running run(s): each stops after its "
                                       "current step.", messages.SUCCESS)
        if finished:
            self.message_user(request, f"{finished} run(s) had already finished: nothing to cancel.",
                              messages.WARNING if not (cancelled or requested) else messages.INFO)


@admin.register(ModelVersion)
class ModelVersionAdmin(RefusedDeletes, admin.ModelAdmin):
    list_display = ("__str__", "run", "is_active", "val_mae", "baseline_mae", "estimate", "created_at",
                    "activated_at")
    list_filter = ("is_active",)
    readonly_fields = ("run", "number", "weights", "config", "metrics", "is_active", "created_at", "activated_at",
                       "scoring_enqueued_at", "scored_at")  # the sweep and the predictions page read them
    actions = ["activate", "score_all", "delete_selected"]
    list_select_related = ("run",)

    # The active version is never deleted (its predictions are what every page shows): the delete button, the
    # delete page and the list's delete action all say so instead (``refuse_deleting_active``).
    def refuse_delete(self, queryset) -> None:
        services.refuse_deleting_active(version_ids=queryset.values_list("pk", flat=True))

    def delete_rows(self, ids: list[int]) -> None:
        services.delete_model_versions(version_ids=ids)

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*(f"run__{name}" for name in TrainingRun.LARGE_FIELDS))

    def has_add_permission(self, request):
        return False  # versions are made by successful runs

    @admin.display(description="MAE (held-out)")
    def val_mae(self, version):
        value, sd = version.metrics.get("val_mae"), version.metrics.get("val_mae_sd")
        return score(value, 3) if sd is None or value is None else mean_sd({"mean": value, "sd": sd})

    @admin.display(description="baseline MAE")
    def baseline_mae(self, version):
        return score(version.metrics.get("baseline_mae"), 3)

    @admin.display(description="estimate")
    def estimate(self, version):
        kind = version.metrics.get("estimate") or "validation split"
        if kind == "cross-validated" and version.metrics.get("folds"):
            return f"cross-validated, {version.metrics['folds']} folds"
        if kind == "validation split":
            return "validation split (flatters the model)"
        return kind

    def has_activate_permission(self, request):
        return can(request.user, ACTIVATE_VERSION)

    @admin.action(description="Activate (and score every ready trailer with it)", permissions=["activate"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = queryset.get()
        try:
            done = services.activate_chosen(model_version=version)
        except services.WorseThanActive as worse:  # asks again, as the version page does
            back = reverse("admin:trailers_modelversion_changelist")
            return TemplateResponse(request, "trailers/activate_confirm.html",
                                    {"version": version, "comparison": worse.comparison, "back": back}, status=409)
        except ServiceError as error:
            show(request, error)
            return
        if done.already_active:
            self.message_user(request, f"Model version {version} is already the active one; nothing changed "
                                       "(\"Score all ready trailers\" scores them again).", messages.INFO)
            return
        comparison = done.comparison
        self.log_change(request, version, "Activated.")
        self.message_user(request, f"Model version {version} is now active; scoring every ready trailer with it.",
                          messages.SUCCESS)
        if comparison["active"] is None:
            self.message_user(request, f"Compared with the version that was active: {comparison['reason']}.",
                              messages.INFO)
        else:  # a warning where it was not comparable on any trailer (better and tied ones are no worry)
            good = comparison["decision"] == "activate" or comparison.get("tied")
            self.message_user(request, f"Compared with v{comparison['active']}, the version that was active: "
                                       f"{comparison['reason']}.", messages.SUCCESS if good else messages.WARNING)

    @admin.action(description="Score all ready trailers with this version", permissions=["activate"])
    def score_all(self, request, queryset):
        queued = 0
        for version in queryset:
            try:
                services.check_weights(model_version=version)
            except ServiceError as error:
                show(request, error)
                continue
            services.enqueue_scoring(model_version_id=version.pk)
            self.log_change(request, version, "Queued to score every ready trailer.")
            queued += 1
        if queued:
            self.message_user(request, f"Scoring queued for {queued} version(s).", messages.SUCCESS)


@admin.register(Prediction)
class PredictionAdmin(BoundedSearch, admin.ModelAdmin):
    list_display = ("trailer", "model_version", "score", "uncertainty", "spread", "created_at")
    list_filter = ("model_version",)
    search_fields = ("trailer__title__uicontains",)
    readonly_fields = ("model_version", "trailer", "score", "uncertainty", "low", "high", "novelty", "subclip_scores", "spread",
                       "created_at")
    # Named: a bare select_related() would follow the version to its run and load the run's dataset per row.
    list_select_related = ("trailer", "model_version")
    ordering = ("-id",)  # newest first, as created_at, but on the primary key's index rather than a sort
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = ADMIN_PAGE

    def get_queryset(self, request):
        return super().get_queryset(request).defer("model_version__config", "model_version__metrics")

    def has_add_permission(self, request):
        return False


# DRF's token admin lists every token's key: a staff member allowed to view tokens could act as anyone, superusers
# included. Tokens are shown by owner and date only, to superusers only, who may revoke them; a token is made only
# by its owner (POST /api/token/ with their password).
admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class ApiTokenAdmin(TokenAdmin):  # DRF's, for its mapping of the admin's ids to the owner's (the key is the real id)
    list_display = ("user", "created")
    fields = ("user", "created")
    readonly_fields = ("user", "created")

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# Django's own user admin, with the search bounded as every other list's.
admin.site.unregister(User)


@admin.register(User)
class BoundedUserAdmin(BoundedSearch, UserAdmin):
    pass
