"""Admin for every model. What the system computes is read-only here."""

from django.contrib import admin

from .models import ModelVersion, Prediction, Rating, Subclip, Trailer, TrainingRun


class SubclipInline(admin.TabularInline):
    model = Subclip
    extra = 0
    can_delete = False
    fields = ("index", "start", "duration", "frame_count", "frames", "contact_sheet")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Trailer)
class TrailerAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "duration", "width", "height", "codec", "reference_score", "uploaded_by", "uploaded_at")
    list_filter = ("status", "codec", "container", "has_audio")
    search_fields = ("title", "original_name", "sha256")
    date_hierarchy = "uploaded_at"
    readonly_fields = (
        "file", "original_name", "uploaded_by", "uploaded_at", "duration", "fps", "width", "height", "codec",
        "container", "has_audio", "size_bytes", "sha256", "status", "error", "enqueued_at", "processed_at",
    )
    inlines = [SubclipInline]


@admin.register(Subclip)
class SubclipAdmin(admin.ModelAdmin):
    list_display = ("trailer", "index", "start", "duration", "frame_count", "created_at")
    search_fields = ("trailer__title",)
    readonly_fields = [f.name for f in Subclip._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("trailer", "user", "score", "updated_at")
    list_filter = ("score",)
    search_fields = ("trailer__title", "user__username")
    raw_id_fields = ("trailer", "user")


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "progress", "epoch", "label_source", "device", "created_by", "created_at")
    list_filter = ("status", "label_source", "device")
    search_fields = ("worker", "error")
    readonly_fields = [
        "dataset", "sampling", "status", "progress", "epoch", "metrics", "error", "device", "worker",
        "cancel_requested", "checkpoint", "enqueued_at", "started_at", "heartbeat_at", "finished_at", "created_by",
    ]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "run", "is_active", "created_at", "activated_at")
    list_filter = ("is_active",)
    readonly_fields = ("run", "number", "weights", "config", "metrics", "is_active", "created_at", "activated_at")


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("trailer", "model_version", "score", "spread", "created_at")
    list_filter = ("model_version",)
    search_fields = ("trailer__title",)
    readonly_fields = ("model_version", "trailer", "score", "subclip_scores", "spread", "created_at")
