from django.apps import AppConfig


class BackupsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "backups"
    verbose_name = "Backups"

    def ready(self):
        from django.contrib import admin

        from . import jobs  # noqa: F401 - registers this app's kinds of background job

        # The index says when a scheduled backup failed (its template adds that to Django's own).
        admin.site.index_template = "admin/backups/index.html"
