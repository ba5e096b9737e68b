from django.apps import AppConfig


class SettingsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "settings_app"
    verbose_name = "Settings"

    def ready(self):
        from . import signals  # noqa: F401  (connects the seeding of new users)
