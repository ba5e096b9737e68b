from django.apps import AppConfig


class BackupsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "backups"
    verbose_name = "Backups"

    def ready(self):
        from django.contrib import admin

        from jobs.signals import worker_started
        from settings_app.services import keys_rotated

        from . import jobs  # noqa: F401 - registers this app's kinds of background job
        from .schedules import schedule_passphrases_reencrypt
        from .tasks import backups_tick_ensure

        # The worker's hourly run is queued whenever a worker starts (a killed worker leaves none queued);
        # the schedules' passphrases follow a rotation of the encryption keys.
        worker_started.connect(lambda **kwargs: backups_tick_ensure(), weak=False, dispatch_uid="backups_tick")
        keys_rotated.connect(lambda **kwargs: schedule_passphrases_reencrypt(), weak=False, dispatch_uid="backups_keys")

        # The index says when a scheduled backup failed (its template adds that to Django's own).
        admin.site.index_template = "admin/backups/index.html"
