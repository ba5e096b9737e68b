import csv

from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app"
    verbose_name = "Charging"

    def ready(self):
        from .resources import CSV_CELL_LIMIT

        csv.field_size_limit(CSV_CELL_LIMIT)
