import datetime as dt
import hashlib
import json
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import EmptyResultSet, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connections, models
from django.db.models import F, Q
from django.db.models.functions import Substr, Trunc
from django.utils import timezone

from cars_app.models import notes_field
from plugtrack_site.dates import date_text, moment_text
from plugtrack_site.numbers import decimal_text
from settings_app.services import user_settings

from .bounds import BOUND_FIELDS, bounds_broken

SOC_VALIDATORS = [
    MinValueValidator(0, message="State of charge must be between 0 and 100 %%."),
    MaxValueValidator(100, message="State of charge must be between 0 and 100 %%."),
]
NON_NEGATIVE = [MinValueValidator(0, message="Must be 0 or more.")]
# The order of a car's sessions in time: what "earliest" (the baseline) and "previous" mean.
CHRONOLOGICAL = ("date", "odometer", "id")
# The whole units PlugTrack sums and compares in (SQL and Python alike, so that SQLite's floating point
# decides no boundary): kWh in thousandths, prices per kWh in ten-thousandths of a pound, costs in pence.
KWH_UNITS = 1000
PRICE_UNITS = 10_000
COST_UNITS = 100


def kwh_units(kwh: Decimal) -> int:
    """A kWh in thousandths, as the checks and the totals count it."""
    return int((kwh * KWH_UNITS).to_integral_value())


def price_units(pounds: Decimal) -> int:
    """A price per kWh (or an owner's ceiling) in ten-thousandths of a pound."""
    return int((pounds * PRICE_UNITS).to_integral_value())


# What makes two sessions of a car the same charge (with the car): the key of the unique constraint,
# by which an import or restore skips what is stored already and the admin's form refuses a copy.
DUPLICATE_KEY = ("date", "odometer", "charge_delivered_kwh")


def date_truncated(field: str, kind: str, vendor: str):
    """The year, month or day (`kind`) of a date column, for the database to group on; read the
    values with `truncated_date`. On SQLite Django truncates each row's date with a Python function
    (300 ms for 51,000 sessions); there a date is stored as ISO text, so the same truncation is a
    prefix of it, which SQLite takes natively."""
    if vendor == "sqlite":
        return Substr(field, 1, _ISO_PREFIX[kind])
    return Trunc(field, kind, output_field=models.DateField())


def truncated_date(value: dt.date | str) -> dt.date:
    """The first day of a year, month or day that `date_truncated` gave (a date, or an ISO prefix)."""
    return dt.date.fromisoformat(f"{value}-01-01"[:10]) if isinstance(value, str) else value


_ISO_PREFIX = {"year": 4, "month": 7, "day": 10}  # characters of "YYYY-MM-DD"


class ChargingSessionQuerySet(models.QuerySet):
    def dates(self, field_name, kind, order="ASC"):
        """The distinct years, months or days of `field_name` (what the admin's date hierarchy shows):
        found by skipping along the index from each one to the next (one recursive query, an index
        seek per year, month or day found) instead of truncating every row's date, so its cost does
        not grow with the number of sessions. A list of dates, in `order`."""
        connection = connections[self.db]
        following = _FOLLOWING_START.get(connection.vendor, {}).get(kind)
        if following is None:
            return super().dates(field_name, kind, order)
        try:
            rows, params = self.order_by().values(field_name).query.sql_with_params()
        except EmptyResultSet:  # a filter that nothing can match (e.g. no home label at all)
            return []
        column = f"rows.{connection.ops.quote_name(field_name)}"
        sql = (
            f"WITH RECURSIVE starts(day) AS (SELECT MIN({column}) FROM ({rows}) AS rows "
            f"UNION ALL SELECT (SELECT MIN({column}) FROM ({rows}) AS rows "
            f"                  WHERE {column} >= {following.format(day='starts.day')}) "
            "FROM starts WHERE starts.day IS NOT NULL) "
            "SELECT day FROM starts WHERE day IS NOT NULL"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, (*params, *params))
            days = [dt.date.fromisoformat(day) if isinstance(day, str) else day for (day,) in cursor.fetchall()]
        starts = {day.replace(month=1, day=1) if kind == "year" else day.replace(day=1) if kind == "month" else day
                  for day in days}  # fmt: skip
        return sorted(starts, reverse=order == "DESC")


# The first day of the year, month or day after the one `{day}` falls in, in each database's SQL.
_FOLLOWING_START = {
    "sqlite": {
        "year": "date({day}, 'start of year', '+1 year')",
        "month": "date({day}, 'start of month', '+1 month')",
        "day": "date({day}, '+1 day')",
    },
    "postgresql": {
        kind: f"CAST(DATE_TRUNC('{kind}', {{day}}) + INTERVAL '1 {kind}' AS date)" for kind in ("year", "month", "day")
    },
}


class ImportBatch(models.Model):
    """One import of sessions (the command, the admin, a merge restore): what came from where, so
    that exactly the sessions it inserted can be removed again (sessions_app/imports/batches.py)."""

    class Kind(models.TextChoices):
        IMPORT = "import", "import"
        RESTORE = "restore", "merge restore"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_batches")
    car = models.ForeignKey(  # none for a restore, which may fill several cars
        "cars_app.Car", on_delete=models.CASCADE, null=True, blank=True, related_name="import_batches"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.IMPORT)
    created_at = models.DateTimeField("imported", auto_now_add=True)
    source_name = models.CharField("file", max_length=255)
    sha256 = models.CharField("SHA-256 of the file", max_length=64, blank=True)
    format = models.CharField(max_length=20, default="plugtrack")
    mapping = models.JSONField(default=dict, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    skipped_duplicates = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    undone_at = models.DateTimeField("undone", null=True, blank=True)
    removed = models.PositiveIntegerField(default=0)  # sessions the undo removed ...
    kept_edited = models.PositiveIntegerField(default=0)  # ... and those it kept, edited since the import

    class Meta:
        verbose_name = "import"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        when = f"{moment_text(self.created_at)}, " if self.created_at else ""
        return f"{self.source_name} ({when}{self.inserted} new)"

    def event_data(self) -> dict:
        """The import as its events tell it (plugtrack_site.events): what came from which file, counted."""
        return {
            "id": self.pk, "file": self.source_name, "format": self.format, "car": car_event_data(self.car),
            "rows_read": self.rows_read, "inserted": self.inserted, "skipped_duplicates": self.skipped_duplicates,
            "errors": self.errors,
        }  # fmt: skip

    def may_be_deleted(self) -> bool:
        """Only once none of its sessions are left: undo is how they go (sessions_app/imports/batches.py),
        and a record deleted before could no longer undo them."""
        return not self.sessions.exists()


def car_event_data(car) -> dict | None:
    return None if car is None else {"id": car.pk, "name": str(car)}


def headings_key(header: list[str]) -> str:
    """The same for the same headings in the same order (outer spaces and case aside)."""
    return hashlib.sha256(json.dumps([heading.strip().lower() for heading in header]).encode()).hexdigest()


class ReadBackJSONField(models.JSONField):
    """JSON read back however deep it was stored: nesting deeper than Python's parser goes (a mapping
    saved on SQLite before mappings were checked) comes back as its text, as Django gives back text
    that is not JSON, to be refused with a message where it is used (mapping_json), not a
    RecursionError on every page that loads the row."""

    def from_db_value(self, value, expression, connection):
        try:
            return super().from_db_value(value, expression, connection)
        except RecursionError:
            return value


class MappingProfile(models.Model):
    """A mapping of an owner's file (sessions_app/imports/formats/mapping.py), saved under a name: offered
    again when a file with the same header comes (header_key: the SHA-256 of its headings)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mapping_profiles")
    name = models.CharField(max_length=80)
    header = ReadBackJSONField("headings of the file", default=list)
    header_key = models.CharField(max_length=64, db_index=True, editable=False)
    mapping = ReadBackJSONField(help_text="The mapping as JSON: which heading feeds which field, in which unit.")
    updated_at = models.DateTimeField("saved", auto_now=True)

    class Meta:
        verbose_name = "column mapping"
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="mapping_profile_name_unique")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # Derived here, whoever saves it (the import's columns page, the command, the admin's JSON form).
        self.header_key = headings_key(self.header) if self.header else ""
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "header_key"}
        super().save(*args, **kwargs)


class CostSource(models.TextChoices):
    """Where a session's cost comes from: the owner's record (typed, a file, a receipt), else the
    estimate by their tariffs, from its times or from its date only; none without either."""

    RECORDED = "recorded", "recorded"
    TIMES = "times", "estimated from times"
    DATE = "date", "estimated from the date"
    NONE = "none", "none"


class ChargingSession(models.Model):
    class ChargeType(models.TextChoices):
        AC = "AC", "AC"
        DC = "DC", "DC"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="charging_sessions")
    car = models.ForeignKey("cars_app.Car", on_delete=models.CASCADE, related_name="sessions")
    date = models.DateField()
    odometer = models.PositiveIntegerField("odometer (miles)")
    charge_type = models.CharField(max_length=2, choices=ChargeType.choices)
    charge_power_kw = models.DecimalField(
        "power (kW)", max_digits=6, decimal_places=2, null=True, blank=True, validators=NON_NEGATIVE
    )
    location_label = models.CharField(
        "location", max_length=120, blank=True, help_text='Where you charged, e.g. "Home" or "Tesco Extra Leeds".'
    )
    charge_network = models.CharField("network", max_length=80, blank=True)
    charge_delivered_kwh = models.DecimalField("energy (kWh)", max_digits=9, decimal_places=3, validators=NON_NEGATIVE)
    duration_mins = models.PositiveIntegerField("duration (min)", null=True, blank=True)
    cost_per_kwh = models.DecimalField(
        "price (£/kWh)",
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
        help_text="Pounds per kWh, e.g. 0.245.",
    )
    total_cost_gbp = models.DecimalField(
        "total cost (£)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
        help_text="Left blank, the cost is price × energy.",
    )
    soc_from = models.PositiveSmallIntegerField("SoC from (%)", null=True, blank=True, validators=SOC_VALIDATORS)
    soc_to = models.PositiveSmallIntegerField("SoC to (%)", null=True, blank=True, validators=SOC_VALIDATORS)
    ambient_temp_c = models.DecimalField(
        "ambient temperature (°C)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[
            MinValueValidator(-50, message="Temperature must be between -50 and 60 °C."),
            MaxValueValidator(60, message="Temperature must be between -50 and 60 °C."),
        ],
    )
    notes = notes_field()
    started_at = models.DateTimeField(
        "started", null=True, blank=True,
        help_text="When the charge began, if known (a wallbox or the API knows it): the date is its local date.",
    )  # fmt: skip
    ended_at = models.DateTimeField("ended", null=True, blank=True, help_text="When the charge ended, if known.")
    is_baseline = models.BooleanField(
        "baseline",
        default=False,
        editable=False,
        help_text="The car's earliest session; maintained by PlugTrack.",
    )
    odometer_before = models.PositiveIntegerField(
        "previous odometer (miles)",
        null=True,
        blank=True,
        editable=False,
        help_text="The odometer of the same car's session just before this one (none for the first); maintained by "
        "PlugTrack, so that miles per session cost no query over the car's history.",
    )
    checks = models.PositiveSmallIntegerField(
        "checks",
        default=0,
        editable=False,
        help_text="What looks wrong about this session against its neighbours and its car (a sum of "
        "plausibility.Check flags, 0 when nothing does); maintained by PlugTrack.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="sessions",
        help_text="The import that inserted this session, if one did.",
    )  # fmt: skip
    edited_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When a person last changed it (an undo keeps it then)."
    )

    # What the session cost by its owner's tariffs (the tariffs app works it out and writes it through
    # services.charging_session_costs_write): kept beside the recorded cost, never over it.
    estimated_cost_gbp = models.DecimalField(
        "estimated cost (£)", max_digits=10, decimal_places=2, null=True, blank=True, editable=False,
        help_text="What the session cost by your tariffs; a cost you recorded wins over it.",
    )  # fmt: skip
    # (Defaults in the database too: the imports' insert names its columns, these not among them.)
    cost_source = models.CharField(
        "cost source", max_length=8, choices=CostSource.choices, default=CostSource.NONE,
        db_default=CostSource.NONE, editable=False,
    )  # fmt: skip
    cost_breakdown = models.JSONField(
        "cost by band", null=True, blank=True, editable=False,
        help_text="The estimate's kWh and pence by band, the tariff, and how it was worked out.",
    )  # fmt: skip
    off_peak_kwh = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True, editable=False)
    off_peak_cost_gbp = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True, editable=False)

    objects = ChargingSessionQuerySet.as_manager()

    class Meta:
        verbose_name = "charging session"
        ordering = [f"-{name}" for name in CHRONOLOGICAL]
        indexes = [
            models.Index(fields=["user", "car", "date", "odometer", "id"], name="session_user_car_chronological"),
            models.Index(fields=["user", "car", "odometer"], name="session_user_car_odometer"),
            # A car's sessions in time, and an owner's: the sessions list's order, any page of it.
            models.Index(fields=["car", "date", "odometer", "id"], name="session_car_chronological"),
            models.Index(fields=["user", "date", "odometer", "id"], name="session_user_chronological"),
            # The list's AC/DC and Home filters: their sessions counted, dated and paged from an index alone.
            models.Index(fields=["user", "charge_type", "date", "odometer", "id"], name="session_user_type_date"),
            models.Index(fields=["user", "location_label", "date"], name="session_user_location_date"),
            # The list's "check" filter: the few flagged sessions found without reading the rest.
            models.Index(fields=["user", "checks", "date"], name="session_user_checks_date"),
        ]
        constraints = [
            # The idempotency key of imports and restores: the same charge is never stored twice.
            models.UniqueConstraint(
                fields=["user", "car", *DUPLICATE_KEY], name="session_duplicate_key"
            ),
            models.CheckConstraint(condition=Q(charge_type__in=["AC", "DC"]), name="session_charge_type_valid"),
            models.CheckConstraint(condition=Q(charge_delivered_kwh__gte=0), name="session_kwh_non_negative"),
            models.CheckConstraint(
                condition=Q(soc_from__isnull=True) | Q(soc_from__gte=0, soc_from__lte=100),
                name="session_soc_from_range",
            ),
            models.CheckConstraint(
                condition=Q(soc_to__isnull=True) | Q(soc_to__gte=0, soc_to__lte=100), name="session_soc_to_range"
            ),
            models.CheckConstraint(
                condition=Q(soc_from__isnull=True) | Q(soc_to__isnull=True) | Q(soc_to__gte=F("soc_from")),
                name="session_soc_to_not_below_from",
            ),
            models.CheckConstraint(
                condition=Q(cost_per_kwh__isnull=True) | Q(cost_per_kwh__gte=0), name="session_price_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(total_cost_gbp__isnull=True) | Q(total_cost_gbp__gte=0), name="session_cost_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(started_at__isnull=True) | Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="session_ended_not_before_started",
            ),
        ]

    def __str__(self) -> str:
        return f"{date_text(self.date)} · {self.odometer:,} mi · {Decimal(self.charge_delivered_kwh):,.1f} kWh"

    def event_data(self) -> dict:
        """The session as its events tell it (plugtrack_site.events): its fields, decimals as text as the
        CSV writes them (nothing rounded), times in ISO 8601 with their offset, blanks as null."""

        def number(value):
            return None if value is None else decimal_text(value)

        def moment(value):
            return None if value is None else value.isoformat()

        return {
            "id": self.pk, "car": car_event_data(self.car), "date": self.date.isoformat(), "odometer": self.odometer,
            "charge_type": self.charge_type, "charge_power_kw": number(self.charge_power_kw),
            "location": self.location_label, "network": self.charge_network,
            "kwh": number(self.charge_delivered_kwh), "duration_mins": self.duration_mins,
            "cost_per_kwh": number(self.cost_per_kwh), "total_cost_gbp": number(self.total_cost_gbp),
            "soc_from": self.soc_from, "soc_to": self.soc_to, "ambient_temp_c": number(self.ambient_temp_c),
            "notes": self.notes, "started_at": moment(self.started_at), "ended_at": moment(self.ended_at),
            "flagged": bool(self.checks),
        }  # fmt: skip

    def _times_errors(self) -> dict[str, ValidationError]:
        """A start and an end, when known: the end not before the start, the date the start's local date
        (sessions are kept, ordered and told apart by their local date)."""
        errors = {}
        if self.started_at and self.ended_at and self.ended_at < self.started_at:
            errors["ended_at"] = ValidationError(
                f"It ended ({moment_text(self.ended_at)}) before it started ({moment_text(self.started_at)}).",
                code="ended before it started",
            )  # fmt: skip
        if self.started_at and self.date and timezone.localtime(self.started_at).date() != self.date:
            errors["started_at"] = ValidationError(
                f"It started on {date_text(timezone.localtime(self.started_at).date())} (local time), not on the "
                f"session's date, {date_text(self.date)}: correct one of them.", code="start not on the session's date",
            )  # fmt: skip
        return errors

    @staticmethod
    def cost_of(total_cost_gbp: Decimal | None, cost_per_kwh: Decimal | None, kwh: Decimal) -> Decimal | None:
        """A session's cost: its total when given, else price × kWh; none without either (not free).
        totals.Units.COST is the same rule in SQL (a test holds them together)."""
        if total_cost_gbp is not None:
            return total_cost_gbp
        return None if cost_per_kwh is None else cost_per_kwh * kwh

    @property
    def cost_source_now(self) -> str:
        """The source of the cost the figures use: recorded whenever the owner recorded one (also
        one typed since the estimate was worked out), else the estimate's."""
        if self.total_cost_gbp is not None or self.cost_per_kwh is not None:
            return CostSource.RECORDED
        return CostSource.NONE if self.cost_source == CostSource.RECORDED else self.cost_source

    def clean(self, *, price_ceiling: Decimal | None = None):
        """The rules across fields, and the hard bounds (bounds.py). `price_ceiling`: the owner's
        most a kWh can cost, when the caller has it already (an import checks thousands of rows)."""
        errors = {}
        if self.car_id and self.user_id and self.car.user_id != self.user_id:
            errors["car"] = "This car belongs to another user."
        errors |= self._times_errors()
        if self.soc_from is not None and self.soc_to is not None and self.soc_to < self.soc_from:
            errors["soc_to"] = ValidationError(
                f"SoC to ({self.soc_to} %) cannot be below SoC from ({self.soc_from} %).", code="SoC to below SoC from"
            )
        car = self.car if self.car_id or ChargingSession.car.is_cached(self) else None  # (a restore's, not saved yet)
        if price_ceiling is None:
            price_ceiling = user_settings(user=car.user_id if car else self.user_id).max_price_per_kwh
        bounded = {name: getattr(self, name) for name in BOUND_FIELDS.values()}
        if all(isinstance(value, Decimal | None) for value in bounded.values()):  # (a form's bad text: its own error)
            errors = bounds_broken(
                kwh=self.charge_delivered_kwh, price=self.cost_per_kwh, total=self.total_cost_gbp,
                battery_kwh=car.battery_kwh if car else None, price_ceiling=price_ceiling,
            ) | errors  # fmt: skip
        if errors:
            raise ValidationError(errors)


# A session's fields in people's words (the model's labels: "energy (kWh)" for charge_delivered_kwh).
SESSION_FIELD_LABELS = {field.name: str(field.verbose_name) for field in ChargingSession._meta.fields}


class MonthLabelTotal(models.Model):
    """A car's sessions of one month at one location and network, flagged or not, summed: what a
    car's summary and its months read instead of the car's whole history (see
    sessions_app/totals.py, which keeps them current after every write). Amounts are whole units,
    as totals.Units describes."""

    car = models.ForeignKey("cars_app.Car", on_delete=models.CASCADE, related_name="month_label_totals")
    month = models.DateField()  # its first day
    location_label = models.CharField(max_length=120, blank=True)
    charge_network = models.CharField(max_length=80, blank=True)
    flagged = models.BooleanField(default=False)  # sessions with a plausibility check (ChargingSession.checks)
    sessions = models.PositiveIntegerField()
    kwh_units = models.BigIntegerField()
    cost_units = models.BigIntegerField()
    # Costs are those recorded, else estimated by a tariff (totals.Units.COST_USED).
    priced_sessions = models.PositiveIntegerField()  # the sessions that have a cost, recorded or estimated ...
    priced_kwh_units = models.BigIntegerField()  # ... and their kWh
    # The miles and kWh of the sessions counted for efficiency (not flagged, not the baseline), and of
    # those the ones with a cost.
    efficiency_miles = models.BigIntegerField()
    efficiency_kwh_units = models.BigIntegerField()
    costed_miles = models.BigIntegerField()
    costed_cost_units = models.BigIntegerField()
    # Of the sessions' costs above, those estimated by a tariff (no cost recorded): how many and how much;
    # the kWh split by band (sessions with an estimate), of which off-peak, and the cost of those off-peak kWh.
    estimated_sessions = models.PositiveIntegerField(default=0)
    estimated_cost_units = models.BigIntegerField(default=0)
    banded_kwh_units = models.BigIntegerField(default=0)
    off_peak_kwh_units = models.BigIntegerField(default=0)
    off_peak_cost_units = models.BigIntegerField(default=0)
    last_full_charge = models.DateField(null=True)  # the latest of these sessions that charged to FULL_CHARGE_SOC

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["car", "month", "location_label", "charge_network", "flagged"], name="month_label_total_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} · {self.location_label or '(no location)'} · {self.sessions} sessions"
