from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app"
    verbose_name = "Charging"

    def ready(self):
        from django.db.models.signals import post_migrate

        from plugtrack_site.accounts import owners_group_permissions_refresh
        from settings_app.services import settings_changed

        from .imports import jobs  # noqa: F401 - registers this app's kinds of background job
        from .services import sessions_reflagged_for_settings

        settings_changed.connect(sessions_reflagged_for_settings, dispatch_uid="plugtrack_sessions_price_ceiling")

        # After the migrations of the last PlugTrack app (api, last in INSTALLED_APPS), whose models' permissions
        # Django has made by then: the owners may use a model an upgrade added (import batches, API tokens).
        post_migrate.connect(owners_group_permissions_refresh, sender=self.apps.get_app_config("api"))
