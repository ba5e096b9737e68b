import datetime as dt
from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

from plugtrack_site.dates import moment_text
from plugtrack_site.files import STALE_AFTER_SECONDS


class Backup(models.Model):
    """A backup ZIP written by PlugTrack (by hand, on the owner's schedule, or automatically before
    a replace restore)."""

    class Kind(models.TextChoices):
        MANUAL = "manual", "manual"
        AUTOMATIC = "automatic", "automatic (before a replace restore)"
        SCHEDULED = "scheduled", "scheduled"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backups")
    created_at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MANUAL)
    path = models.CharField(max_length=500, help_text="Where the ZIP was written.")
    size_bytes = models.PositiveBigIntegerField("size (bytes)")
    cars = models.PositiveIntegerField()
    sessions = models.PositiveIntegerField()
    settings = models.PositiveIntegerField()
    encrypted = models.BooleanField(default=False, help_text="Encrypted with a passphrase (never stored).")
    # A scheduled backup is reopened and restored as a dry run once written (schedules.py):
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_error = models.TextField(blank=True)
    # Its copy off the machine (backups/offsite.py), when one is configured: where, when, or why not yet.
    offsite_name = models.CharField(max_length=500, blank=True)
    offsite_at = models.DateTimeField(null=True, blank=True)
    offsite_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Backup of {moment_text(self.created_at)} ({self.get_kind_display()})"

    def event_data(self) -> dict:
        """The backup as its events tell it (plugtrack_site.events): its file's name, never the server's folders."""
        return {
            "id": self.pk, "kind": self.kind, "file": Path(self.path).name, "created_at": self.created_at.isoformat(),
            "size_bytes": self.size_bytes, "cars": self.cars, "sessions": self.sessions, "encrypted": self.encrypted,
        }  # fmt: skip


class BackupSchedule(models.Model):
    """An owner's scheduled backups (backups/schedules.py runs them): how often, at which hour, whether
    encrypted, and how many of them to keep (grandfather-father-son)."""

    # A run that took its slot this long ago and never said how it went was stopped (a deploy, the
    # out-of-memory killer, a power cut): its slot is made again. Writing a backup takes less than an
    # hour (STALE_AFTER_SECONDS), verifying it as long again at most; and by then what the stopped run
    # was writing is over an hour old, so the new backup's own sweep of the folder removes it.
    RUN_ABANDONED_AFTER = dt.timedelta(seconds=2 * STALE_AFTER_SECONDS)

    class Frequency(models.TextChoices):
        OFF = "off", "off"
        DAILY = "daily", "daily"
        WEEKLY = "weekly", "weekly"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backup_schedule")
    frequency = models.CharField(max_length=6, choices=Frequency.choices, default=Frequency.OFF)
    hour = models.PositiveSmallIntegerField(
        default=3, validators=[MaxValueValidator(23)], help_text="The hour of the day (0-23, this site's time zone)."
    )
    weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, default=Weekday.SUNDAY, help_text="For a weekly backup."
    )
    encrypt = models.BooleanField("encrypt with a passphrase", default=False)
    passphrase = models.TextField(blank=True, editable=False)  # encrypted with the settings' keys, never in clear
    keep_daily = models.PositiveSmallIntegerField(default=7, validators=[MaxValueValidator(366)])
    keep_weekly = models.PositiveSmallIntegerField(default=4, validators=[MaxValueValidator(520)])
    keep_monthly = models.PositiveSmallIntegerField(default=12, validators=[MaxValueValidator(1200)])
    active_since = models.DateTimeField(default=timezone.now, help_text="Slots before this are not made up.")
    last_slot = models.DateTimeField(null=True, blank=True, help_text="The last scheduled time a backup ran for.")
    claimed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the run of the last slot started; empty once it has said how it went.",
    )
    # What went wrong with the last scheduled backup (written, or verified): shown until one succeeds.
    failed_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)

    class Meta:
        verbose_name = "backup schedule"

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} backups of {self.user}"

    def run_abandoned(self, now: dt.datetime) -> bool:
        """Whether the last slot's run started and never finished, longer ago than any run takes."""
        return self.claimed_at is not None and self.claimed_at <= now - self.RUN_ABANDONED_AFTER

    def run_in_progress(self, now: dt.datetime) -> bool:
        """Whether the last slot's run started and has not finished, and may still be running."""
        return self.claimed_at is not None and not self.run_abandoned(now)
