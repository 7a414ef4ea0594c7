from django.apps import AppConfig


class ExportConfig(AppConfig):
    name = "export"
    verbose_name = "Export"

    def ready(self) -> None:
        from export import signals  # noqa: F401 (connects the receivers)
