"""The API's own records: the owners' tokens, the Idempotency-Keys of their POSTs, the import record of
what a token posts in a day, and the id a session has where it came from (`external_id`)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

TOKEN_START = "pt"  # every token reads pt_<id>_<secret>, so that secret scanners can match it


class ApiToken(models.Model):
    """A key an owner gives a program (Home Assistant, a script) to use PlugTrack's API: only what its
    scopes allow, only on its cars, until it expires or is revoked. Only the SHA-256 of its secret is
    kept: the token itself is shown once, when it is made."""

    class Scope(models.TextChoices):
        SESSIONS_READ = "sessions:read", "sessions:read (read sessions, as JSON and as CSV)"
        SESSIONS_WRITE = "sessions:write", "sessions:write (post sessions)"
        ANALYTICS_READ = "analytics:read", "analytics:read (read the analytics summary)"
        BACKUPS_RUN = "backups:run", "backups:run (start a backup and follow its job)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="What uses it, e.g. “Home Assistant”.")
    prefix = models.CharField(
        "id", max_length=12, unique=True, editable=False,
        help_text="The token's public part, which finds it: pt_<id>_<secret>.",
    )  # fmt: skip
    secret_sha256 = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, help_text="What it may do.")
    cars = models.ManyToManyField(
        "cars_app.Car", blank=True, related_name="api_tokens", help_text="The cars it may use; none chosen: all yours."
    )
    expires_at = models.DateTimeField("expires")
    created_at = models.DateTimeField("created", auto_now_add=True)
    last_used_at = models.DateTimeField("last used", null=True, blank=True)
    last_used_from = models.GenericIPAddressField("last used from", null=True, blank=True)
    revoked_at = models.DateTimeField("revoked", null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at", "-id"]
        constraints = [
            # A name says which token is which (and `api_token_revoke --name` finds it): one live token per name.
            models.UniqueConstraint(
                fields=["user", "name"], condition=Q(revoked_at__isnull=True), name="api_token_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_part}…)"

    @property
    def public_part(self) -> str:
        return f"{TOKEN_START}_{self.prefix}_"

    def state(self, now=None) -> str:
        """"revoked", "expired" or "active"."""
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= (now or timezone.now()) else "active"

    def may(self, scope: str) -> bool:
        return scope in self.scopes


class IdempotencyKey(models.Model):
    """A POST's Idempotency-Key (docs/api.md): the request it came with (its SHA-256), and once answered the
    answer, replayed for the same key. Claimed by inserting it (unique per token), so that of two requests
    with one key only one runs; kept 24 hours."""

    class Status(models.TextChoices):
        IN_FLIGHT = "in_flight", "being answered"
        DONE = "done", "answered"

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    request_sha256 = models.CharField(max_length=64, help_text="Of the method, the path and the body.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "idempotency key"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="api_idempotency_key_unique")]

    def __str__(self) -> str:
        return self.key


class TokenImportDay(models.Model):
    """The import record of the sessions one token posted on one day, so that they are undone together."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="import_days")
    day = models.DateField()
    batch = models.OneToOneField("sessions_app.ImportBatch", on_delete=models.CASCADE, related_name="api_day")

    class Meta:
        verbose_name = "API import of a day"
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.token.name}, {self.day}"


class SessionExternalId(models.Model):
    """A posted session's id where it came from (evcc's, a wallbox's): a car's sessions have each their own."""

    session = models.OneToOneField(
        "sessions_app.ChargingSession", on_delete=models.CASCADE, related_name="external"
    )
    car = models.ForeignKey("cars_app.Car", on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=200)

    class Meta:
        verbose_name = "external id"
        ordering = ["car", "external_id"]
        constraints = [models.UniqueConstraint(fields=["car", "external_id"], name="api_external_id_unique")]

    def __str__(self) -> str:
        return self.external_id
