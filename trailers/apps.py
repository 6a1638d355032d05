from django.apps import AppConfig


class TrailersConfig(AppConfig):
    name = "trailers"
    verbose_name = "Reelscore"

    def ready(self) -> None:
        from . import lookups, signals  # noqa: F401  (signals connects the file clean-up handlers)

        lookups.install()  # __uicontains: searches that ignore the case of every script
