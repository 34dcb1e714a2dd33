from django.apps import AppConfig


class ToolsConfig(AppConfig):
    """Operator tooling above every domain app: the process harness, benchmarks and soaks."""

    name = "tools"
    default_auto_field = "django.db.models.BigAutoField"
