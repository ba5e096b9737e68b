from django.apps import AppConfig


class BackupsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "backups"
    verbose_name = "Backups"

    def ready(self):
        from . import jobs  # noqa: F401 - registers this app's kinds of background job
