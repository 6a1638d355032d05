from django.apps import AppConfig


class TrailersConfig(AppConfig):
    name = "trailers"
    verbose_name = "Reelscore"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the file clean-up handlers)
