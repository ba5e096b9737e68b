from django.conf import settings
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models

# The longest note of a car or a session: a page of text. It also bounds a row of the sessions
# CSV and of a backup, so that no file can make PlugTrack read an unbounded row.
NOTES_MAX_CHARS = 10_000


def notes_field() -> models.TextField:
    return models.TextField(blank=True, max_length=NOTES_MAX_CHARS, validators=[MaxLengthValidator(NOTES_MAX_CHARS)])


class Car(models.Model):
    class FrequencyUnit(models.TextChoices):
        DAYS = "days", "days"
        MONTHS = "months", "months"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cars")
    name = models.CharField(max_length=100, blank=True, help_text='Display name. Left blank, it becomes "make model".')
    make = models.CharField(max_length=50)
    model = models.CharField(max_length=50)
    battery_kwh = models.DecimalField(
        "battery (kWh)",
        max_digits=6,
        decimal_places=2,
        validators=[MinValueValidator(0.01, message="Battery capacity must be more than 0 kWh.")],
        help_text="Usable battery capacity in kWh.",
    )
    efficiency_mpkwh = models.DecimalField(
        "nominal efficiency (mi/kWh)",
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0.01, message="Efficiency must be more than 0 mi/kWh.")],
        help_text="The car's nominal figure, used when there is not enough data to measure it.",
    )
    active = models.BooleanField(default=True)
    recommended_full_charge_enabled = models.BooleanField(
        "remind me of a full charge",
        default=False,
        help_text="Some batteries (e.g. LFP) should be charged to 100% now and then.",
    )
    recommended_full_charge_frequency_value = models.PositiveIntegerField(
        "full charge every",
        default=1,
        validators=[MinValueValidator(1, message="The frequency must be at least 1.")],
    )
    recommended_full_charge_frequency_unit = models.CharField(
        "unit", max_length=6, choices=FrequencyUnit.choices, default=FrequencyUnit.MONTHS
    )
    notes = notes_field()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name", "make", "model"], name="car_natural_key_per_user"),
            models.CheckConstraint(condition=models.Q(battery_kwh__gt=0), name="car_battery_kwh_positive"),
            models.CheckConstraint(
                condition=models.Q(efficiency_mpkwh__isnull=True) | models.Q(efficiency_mpkwh__gt=0),
                name="car_efficiency_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(recommended_full_charge_frequency_value__gt=0),
                name="car_full_charge_frequency_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(recommended_full_charge_frequency_unit__in=["days", "months"]),
                name="car_full_charge_unit_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.default_name(self.make, self.model)

    def save(self, *args, **kwargs):
        # The natural key includes the name, so it must never be stored blank.
        if not self.name:
            self.name = self.default_name(self.make, self.model)
        # A battery given as a number (64.8, 1) is kept as the Decimal it is stored as, also in this instance:
        # the checks' arithmetic is exact decimal arithmetic, which a float breaks.
        for name in ("battery_kwh", "efficiency_mpkwh"):
            setattr(self, name, self._meta.get_field(name).to_python(getattr(self, name)))
        super().save(*args, **kwargs)

    @staticmethod
    def default_name(make: str, model: str) -> str:
        """A car's name when none is given: "make model"."""
        return f"{make} {model}".strip()
