"""Reimbursement statements: what an employer pays back for a car's business miles in a month, by a
scheme (HMRC's advisory electric rate, HMRC's mileage allowance, Germany's per-kWh rule, the actual
cost), from a dated table of published rates. A statement, once finalised, is kept as it was made
(its content and its files, each with a SHA-256); a later change to the month makes a new version.
docs/statements.md says what each figure means."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from plugtrack_site.errors import PlugTrackError


class StatementFinalisedError(PlugTrackError):
    """An attempt to change a finalised statement."""


class Scheme(models.TextChoices):
    UK_AER = "uk-aer", "UK advisory electric rate (company car)"
    UK_MILEAGE = "uk-mileage", "UK mileage allowance (your own car)"
    DE_KWH = "de-kwh", "Germany: home kWh × the official price"
    ACTUAL = "actual", "Actual cost of the charging"


# What each scheme pays in, what its rate is per, and how often its publisher changes the rate (a
# statement past that since the newest rate in the table says so).
CURRENCY = {Scheme.UK_AER: "GBP", Scheme.UK_MILEAGE: "GBP", Scheme.DE_KWH: "EUR", Scheme.ACTUAL: "GBP"}
RATE_UNIT = {Scheme.UK_AER: "mile", Scheme.UK_MILEAGE: "mile", Scheme.DE_KWH: "kWh"}
REPUBLISHED_MONTHS = {Scheme.UK_AER: 3, Scheme.DE_KWH: 12}


def month_first_day(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_last_day(first: dt.date) -> dt.date:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


class Rate(models.Model):
    """One published rate of a scheme, in force from its date until the next of the same kind: per
    mile for the UK schemes (where the car charged, for the advisory electric rate since September
    2025; from how many business miles of the tax year, for the mileage allowance), per kWh for
    Germany's. Seeded by PlugTrack's migrations with the published figures and their source; an
    administrator may correct or add rows, and an upgrade never changes a row that is there."""

    class Charging(models.TextChoices):
        ANY = "", "anywhere"
        HOME = "home", "at home"
        PUBLIC = "public", "in public"

    scheme = models.CharField(max_length=12, choices=[c for c in Scheme.choices if c[0] != Scheme.ACTUAL])
    valid_from = models.DateField(help_text="In force from this day until the next rate of the same kind.")
    charging = models.CharField(
        max_length=6, choices=Charging.choices, blank=True,
        help_text="The advisory electric rate's home and public rates (since 1 Sep 2025); blank: wherever it charged.",
    )  # fmt: skip
    from_business_mile = models.PositiveIntegerField(
        "from business mile", default=0,
        help_text="The mileage allowance's bands: from this many business miles of the tax year on (0, then 10,000).",
    )  # fmt: skip
    amount = models.DecimalField(
        max_digits=8, decimal_places=4, validators=[MinValueValidator(Decimal(0))],
        help_text="Pounds per mile (0.07 is 7p) for the UK schemes, euros per kWh (0.34) for Germany's.",
    )  # fmt: skip
    source_url = models.URLField("source", max_length=300, blank=True, help_text="Where the rate is published.")
    source_note = models.CharField(max_length=300, blank=True, help_text="What the source says, in a few words.")
    seeded = models.BooleanField(default=False, editable=False, help_text="Added by one of PlugTrack's migrations.")
    edited_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When an administrator changed it."
    )

    class Meta:
        verbose_name = "reimbursement rate"
        ordering = ["scheme", "-valid_from", "charging", "from_business_mile"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "valid_from", "charging", "from_business_mile"],
                                    name="rate_unique_kind_and_date"),
        ]  # fmt: skip

    def __str__(self) -> str:
        where = f" {self.get_charging_display()}" if self.charging else ""
        band = f" from business mile {self.from_business_mile:,}" if self.from_business_mile else ""
        return f"{self.get_scheme_display()}{where}{band} from {self.valid_from:%d %b %Y}: {self.amount_text}"

    @property
    def amount_text(self) -> str:
        return rate_text(self.amount, self.scheme)

    def clean(self):
        if self.charging and self.scheme != Scheme.UK_AER:
            raise ValidationError({"charging": "Only the advisory electric rate has home and public rates."})
        if self.from_business_mile and self.scheme != Scheme.UK_MILEAGE:
            raise ValidationError({"from_business_mile": "Only the mileage allowance has bands by business miles."})


def rate_text(amount: Decimal, scheme: str) -> str:
    """A rate as people write it: "7p" a mile, "45p", "€0.34" a kWh."""
    if CURRENCY.get(scheme) == "EUR":
        return f"€{amount:.2f}"
    pence = (amount * 100).normalize()
    return f"{pence:f}p"


class ReimbursementProfile(models.Model):
    """How a car's business miles are paid back, each month: the scheme, the employer and the
    owner's reference there, where the business miles come from, and where the statement goes."""

    class BusinessMiles(models.TextChoices):
        ALL = "all", "all the month's miles"
        MARKED = "marked", "the miles of the sessions marked business"
        ENTERED = "entered", "entered each month"

    class GermanPrice(models.TextChoices):
        OFFICIAL = "official", "the official price of the rate table"
        TARIFF = "tariff", "each session's own cost (recorded, else worked out by your tariffs)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    car = models.OneToOneField("cars_app.Car", on_delete=models.CASCADE, related_name="reimbursement_profile")
    scheme = models.CharField(max_length=12, choices=Scheme.choices)
    employer = models.CharField(max_length=120, help_text="Who pays it back, as the statement names them.")
    reference = models.CharField(
        max_length=80, blank=True, help_text="Your reference there: employee number, cost centre, claim code."
    )
    business_miles = models.CharField(
        "business miles", max_length=8, choices=BusinessMiles.choices, default=BusinessMiles.ALL,
        help_text="Where a month's business miles come from. Entered each month: the monthly run waits for them.",
    )  # fmt: skip
    german_price = models.CharField(
        "German price", max_length=8, choices=GermanPrice.choices, default=GermanPrice.OFFICIAL,
        help_text="Germany's rule only: the home kWh at the official price, or at what each session cost.",
    )  # fmt: skip
    monthly = models.BooleanField(
        "made each month", default=True,
        help_text="The background worker makes and finalises the month before on the 1st (and delivers it).",
    )  # fmt: skip
    email_to = models.CharField(
        "e-mail to", max_length=500, blank=True,
        help_text="Addresses (comma-separated) the finalised statement is e-mailed to, with its PDF and CSV.",
    )  # fmt: skip

    class Meta:
        verbose_name = "reimbursement profile"
        ordering = ["car__name", "id"]

    def __str__(self) -> str:
        return f"{self.car}: {self.get_scheme_display()} for {self.employer}"

    @property
    def email_addresses(self) -> list[str]:
        return [address.strip() for address in self.email_to.split(",") if address.strip()]

    def clean(self):
        from django.core.validators import validate_email

        for address in self.email_addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError({"email_to": f"“{address[:60]}” is not an e-mail address."}) from None


class BusinessMark(models.Model):
    """A session marked as charged for business miles (its miles, since the car's previous session,
    count as business miles when the profile says "marked")."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session = models.OneToOneField("sessions_app.ChargingSession", on_delete=models.CASCADE, related_name="+")
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "business session"

    def __str__(self) -> str:
        return f"session {self.session_id} marked business"

    def clean(self):
        if self.session_id and self.user_id and self.session.user_id != self.user_id:
            raise ValidationError({"session": "Choose one of your own sessions."})


class Statement(models.Model):
    """One finalised version of a car's statement for a month under a scheme: its content (canonical
    JSON, the figures and every session) and the files made from it (CSV, HTML, PDF), each kept as
    made with its SHA-256, so that it reads back byte for byte however the data changes later. A
    change to the month's figures makes the next version; a version is never changed."""

    class MadeBy(models.TextChoices):
        COMMAND = "command", "the command"
        ADMIN = "admin", "the admin"
        WORKER = "worker", "the monthly run"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="statements")
    # A statement outlives its car (a replace restore deletes cars): it names the car in its content.
    car = models.ForeignKey("cars_app.Car", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    car_name = models.CharField("car", max_length=100)
    month = models.DateField(help_text="The month's first day.")
    scheme = models.CharField(max_length=12, choices=Scheme.choices)
    version = models.PositiveSmallIntegerField(default=1)
    finalised_at = models.DateTimeField(default=timezone.now)
    made_by = models.CharField(max_length=8, choices=MadeBy.choices, default=MadeBy.COMMAND)
    claim = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    content = models.TextField(help_text="The statement as canonical JSON: what its files are made from.")
    content_sha256 = models.CharField("SHA-256 of the content", max_length=64)
    figures_sha256 = models.CharField(
        max_length=64,
        help_text="SHA-256 of the figures alone (not the version's own details): a new version when they change.",
    )
    csv = models.BinaryField()
    csv_sha256 = models.CharField(max_length=64)
    html = models.BinaryField()
    html_sha256 = models.CharField(max_length=64)
    pdf = models.BinaryField(null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "statement"
        ordering = ["-month", "car_name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "car", "month", "scheme", "version"], name="statement_version_unique"
            ),
        ]
        indexes = [models.Index(fields=["user", "car", "month", "scheme", "version"], name="statement_lookup")]

    def __str__(self) -> str:
        return f"{self.car_name}, {self.month:%B %Y}, {self.get_scheme_display()}, version {self.version}"

    def save(self, *args, **kwargs):
        # A finalised statement is never changed: a change to its month is the next version.
        if not self._state.adding:
            raise StatementFinalisedError(f"{self} is finalised and cannot be changed: make a new version instead.")
        super().save(*args, **kwargs)

    @property
    def month_label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def file_stem(self) -> str:
        name = "".join(ch if ch.isalnum() else "-" for ch in self.car_name.lower()).strip("-") or "car"
        return f"statement-{name}-{self.month:%Y-%m}-{self.scheme}-v{self.version}"


class StatementDelivery(models.Model):
    """A finalised statement sent somewhere (by e-mail, to the off-site storage): recorded when it is
    finalised, sent by the background worker, tried again with a growing wait until it goes or a week
    has passed; then given up, shown as such, and sent again when asked (statements/delivery.py).
    The statement's webhook is the webhooks app's own delivery (event `statement.finalised`)."""

    class Channel(models.TextChoices):
        EMAIL = "email", "e-mail"
        OFFSITE = "offsite", "off-site storage"

    class Status(models.TextChoices):
        PENDING = "pending", "waiting"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "given up"

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=500, help_text="The addresses, or the name in the off-site storage.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField("next attempt", null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "statement deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="statement_delivery_next")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} of {self.statement}: {self.get_status_display()}"
