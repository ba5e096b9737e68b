from django.apps import AppConfig


class StatementsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "statements"
    verbose_name = "Reimbursement statements"

    def ready(self):
        from jobs.signals import worker_started

        from .tasks import statements_tick_ensure

        # The hourly run (the monthly statements on the 1st, the deliveries due) is queued whenever a worker starts.
        worker_started.connect(lambda **kwargs: statements_tick_ensure(), weak=False, dispatch_uid="statements_tick")
