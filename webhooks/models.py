import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from plugtrack_site.events import KINDS


class Delivery(models.Model):
    """One event for an owner's Notification URL: the JSON it sends, and how sending it went. Made
    when the event happens (only for an owner with a URL), sent by the background worker, retried
    with a growing wait until it is delivered or a day has passed (webhooks/services.py)."""

    class Status(models.TextChoices):
        PENDING = "pending", "waiting"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "given up"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_deliveries", verbose_name="owner"
    )
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="The payload's id.")
    event = models.CharField(max_length=40, choices=[(kind, kind) for kind in KINDS])
    payload = models.JSONField(help_text="What is sent, as JSON: id, type, created and the event's data.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField("next attempt", null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField("last HTTP status", null=True, blank=True)
    last_error = models.CharField(
        max_length=500, blank=True, help_text="Why the last attempt failed, with the start of the answer's body."
    )
    created_at = models.DateTimeField("happened", default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="delivery_user_created"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_next"),
        ]

    def __str__(self) -> str:
        return f"{self.event} of {self.created_at:%Y-%m-%d %H:%M} UTC ({self.get_status_display()})"


class SigningSecret(models.Model):
    """An owner's webhook signing secret, which signs every delivery (webhooks/client.py): made when a
    Notification URL is first saved or when the owner asks for a new one, shown to them once on their
    settings page, and kept as Fernet ciphertext (settings_app.crypto)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_signing_secret",
        verbose_name="owner",
    )  # fmt: skip
    secret = models.TextField(help_text="Fernet ciphertext.")
    created_at = models.DateTimeField("made", default=timezone.now)
    shown_at = models.DateTimeField(null=True, blank=True, help_text="When the settings page showed it (once).")

    class Meta:
        ordering = ["user"]

    def __str__(self) -> str:
        return f"signing secret of {self.created_at:%Y-%m-%d %H:%M} UTC"
