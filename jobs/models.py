import uuid

from django.conf import settings
from django.db import models


class Job(models.Model):
    """Long work an owner starts in the admin (an import, a restore, a backup), run by the
    background worker. Work on an uploaded file has two phases: a check (the dry run the owner is
    shown), then, once they confirm it, the run itself; each phase runs once."""

    class Kind(models.TextChoices):
        SESSIONS_IMPORT = "sessions_import", "sessions import"
        BACKUP_RESTORE = "backup_restore", "backup restore"
        BACKUP_CREATE = "backup_create", "backup"
        COSTS_RECOMPUTE = "costs_recompute", "costs recompute"

    class Phase(models.TextChoices):
        CHECK = "check", "check (dry run)"
        RUN = "run", "run"

    class Status(models.TextChoices):
        QUEUED = "queued", "waiting for the worker"
        RUNNING = "running", "running"
        CHECKED = "checked", "checked, waiting for your confirmation"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        EXPIRED = "expired", "expired (not confirmed within a day)"

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.RUN)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    upload = models.CharField(max_length=500, blank=True, help_text="The uploaded file, kept until the job has run.")
    upload_name = models.CharField(max_length=255, blank=True, help_text="The file's name on the owner's computer.")
    options = models.JSONField(default=dict, help_text="What was chosen with it (car, restore mode, partial import).")
    report = models.JSONField(null=True, blank=True, help_text="The report of the last phase, for the job page.")
    outcome = models.JSONField(default=list, help_text="[level, message] pairs to show the owner.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        name = f" of {self.upload_name}" if self.upload_name else ""
        return f"{self.get_kind_display().capitalize()}{name}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.CHECKED, self.Status.DONE, self.Status.FAILED, self.Status.EXPIRED)
