import uuid

from django.conf import settings
from django.db import models


class Job(models.Model):
    """An operation on a file an owner uploaded: checked first (a dry run they are shown), then run
    once when they confirm. A second confirmation of the same job shows the outcome of the first."""

    class Kind(models.TextChoices):
        SESSIONS_IMPORT = "sessions_import", "sessions import"
        BACKUP_RESTORE = "backup_restore", "backup restore"

    class Status(models.TextChoices):
        CHECKED = "checked", "checked, waiting for confirmation"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKED)
    upload = models.CharField(max_length=500, help_text="The uploaded file, kept until the job has run.")
    upload_name = models.CharField(max_length=255, help_text="The file's name on the owner's computer.")
    options = models.JSONField(default=dict, help_text="What was chosen with the upload (car, restore mode).")
    outcome = models.JSONField(default=list, help_text="[level, message] pairs to show the owner.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.upload_name} ({self.get_status_display()})"
