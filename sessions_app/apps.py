from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app"
    verbose_name = "Charging"

    def ready(self):
        from . import jobs  # noqa: F401 - registers this app's kinds of background job
