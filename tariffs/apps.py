from django.apps import AppConfig


class TariffsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tariffs"
    verbose_name = "Tariffs"

    def ready(self):
        from jobs.signals import worker_started
        from plugtrack_site.events import event_happened

        from . import jobs  # noqa: F401 - registers this app's kind of background job (a costs recompute)
        from .receivers import new_sessions_priced
        from .tasks import tariff_prices_tick_ensure

        # The daily fetch of half-hourly prices is queued whenever a worker starts (a killed worker leaves none).
        worker_started.connect(lambda **kwargs: tariff_prices_tick_ensure(), weak=False, dispatch_uid="tariffs_tick")
        # New sessions priced as they arrive (an owner with tariffs assigned).
        event_happened.connect(new_sessions_priced, dispatch_uid="tariffs_new_sessions_priced")
