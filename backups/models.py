from django.conf import settings
from django.db import models


class Backup(models.Model):
    """A backup ZIP written by PlugTrack (by hand, or automatically before a replace restore)."""

    class Kind(models.TextChoices):
        MANUAL = "manual", "manual"
        AUTOMATIC = "automatic", "automatic (before a replace restore)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backups")
    created_at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MANUAL)
    path = models.CharField(max_length=500, help_text="Where the ZIP was written.")
    size_bytes = models.PositiveBigIntegerField("size (bytes)")
    cars = models.PositiveIntegerField()
    sessions = models.PositiveIntegerField()
    settings = models.PositiveIntegerField()
    encrypted = models.BooleanField(default=False, help_text="Encrypted with a passphrase (never stored).")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} backup of {self.created_at:%Y-%m-%d %H:%M} UTC"
