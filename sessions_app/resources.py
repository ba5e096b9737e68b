"""The sessions CSV schema, owned by one django-import-export resource.

Every import (the command, the admin's Import page, a backup restore) runs through the streaming
importer of `sessions_app.csv_io`, which feeds rows to `ChargingSessionResource.import_chunk`; the
admin's Export button and `sessions_export` write with the same resource. So a file accepted by
one is accepted by all, with the same messages. User and car are context given to the resource,
never columns.

Numbers and dates are parsed and written in one fixed, locale-free way (the library's own
widgets follow the active language: "30.500" would be 30500 under German formatting).
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from plugtrack_site.errors import excerpt

from .csv_format import (
    HEADER,
    decimal_render,
    formula_escape,
    formula_unescape,
)
from .models import CHRONOLOGICAL, ChargingSession
from .seen_keys import SeenKeys
from .services import baseline_recompute

DUPLICATE_KEY = ("date", "odometer", "charge_delivered_kwh")

# ASCII digits only: Python's \d also takes digits of other scripts ("٥٠").
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")  # longer is no count of miles, and int() refuses 4,300 digits
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
PENNY = Decimal("0.01")


class _Cell(widgets.Widget):
    """Base of the strict widgets: blanks around a value are ignored, a blank cell is None."""

    def __init__(self, *, required: bool = False):
        super().__init__()
        self.required = required

    def clean(self, value, row=None, **kwargs):
        text = "" if value is None else str(value).strip()
        if not text:
            if self.required:
                raise ValueError("A value is required.")
            return None
        return self.parse(text)

    def parse(self, text: str):
        return text

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class TextCell(_Cell):
    def clean(self, value, row=None, **kwargs):
        return formula_unescape(super().clean(value, row, **kwargs) or "")

    def parse(self, text: str) -> str:
        if "\x00" in text:  # PostgreSQL cannot store it; refuse it everywhere alike
            raise ValueError("contains a NUL character; remove it.")
        return text

    def render(self, value, obj=None, **kwargs):
        return formula_escape(value or "")


class DecimalCell(_Cell):
    def parse(self, text: str) -> Decimal:
        if not _DECIMAL.fullmatch(text):
            raise ValueError(f'"{excerpt(text)}" is not a number. Use digits with a dot for decimals, e.g. 12.5.')
        if "." in text:  # "30.5000" is 30.5: trailing zeros must not count against the decimal places
            text = text.rstrip("0").rstrip(".") or "0"
        return Decimal(text)

    def render(self, value, obj=None, **kwargs):
        return decimal_render(value)


class IntegerCell(_Cell):
    def parse(self, text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f'"{excerpt(text)}" is not a whole number.')
        return int(text)


class DateCell(_Cell):
    def parse(self, text: str) -> dt.date:
        try:
            if _ISO_DATE.fullmatch(text):
                return dt.date.fromisoformat(text)
        except ValueError:
            pass
        raise ValueError(f'"{excerpt(text)}" is not a date in the form YYYY-MM-DD, e.g. 2025-03-31.')

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else value.isoformat()


class ChargeTypeCell(_Cell):
    def parse(self, text: str) -> str:
        if text.upper() not in ChargingSession.ChargeType.values:
            raise ValueError(f'"{excerpt(text)}" is not a charge type: use AC or DC.')
        return text.upper()


def _column(name: str, widget: widgets.Widget) -> fields.Field:
    return fields.Field(attribute=name, column_name=name, widget=widget)


class ChargingSessionResource(resources.ModelResource):
    """One car's sessions as the 14-column CSV. Give `user` and `car` when importing."""

    date = _column("date", DateCell(required=True))
    odometer = _column("odometer", IntegerCell(required=True))
    charge_type = _column("charge_type", ChargeTypeCell(required=True))
    charge_power_kw = _column("charge_power_kw", DecimalCell())
    location_label = _column("location_label", TextCell())
    charge_network = _column("charge_network", TextCell())
    charge_delivered_kwh = _column("charge_delivered_kwh", DecimalCell(required=True))
    duration_mins = _column("duration_mins", IntegerCell())
    cost_per_kwh = _column("cost_per_kwh", DecimalCell())
    total_cost_gbp = _column("total_cost_gbp", DecimalCell())
    soc_from = _column("soc_from", IntegerCell())
    soc_to = _column("soc_to", IntegerCell())
    ambient_temp_c = _column("ambient_temp_c", DecimalCell())
    notes = _column("notes", TextCell())

    class Meta:
        model = ChargingSession
        fields = HEADER
        export_order = HEADER
        import_id_fields = DUPLICATE_KEY
        batch_size = 1000

    def __init__(
        self, *, user=None, car=None, derive_missing_totals: bool = True, car_is_empty: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        self.user, self.car = user, car
        self.car_is_empty = car_is_empty  # a new (or just emptied) car: no stored keys to look up
        # A restore brings back exactly what was stored, so it derives nothing.
        self.derive_missing_totals = derive_missing_totals
        self.known_keys: set[tuple] | None = None  # keys that make a row a duplicate
        self.warnings: list[tuple[int, str, str]] = []  # (row number in the dataset, field, message)
        # Looked up once, not per row: the widget of each column, and the model fields to check.
        self._widgets = [(name, self.fields[name].widget) for name in HEADER]
        self._model_fields = [ChargingSession._meta.get_field(name) for name in HEADER]

    # --- export -------------------------------------------------------------------------

    def filter_export(self, queryset, **kwargs):
        return queryset.order_by(*CHRONOLOGICAL)

    # --- import -------------------------------------------------------------------------

    def init_instance(self, row=None):
        return ChargingSession(user=self.user, car=self.car)

    def import_instance(self, instance, row, **kwargs):
        """Parse each cell with its column's widget; derive or check the total cost."""
        errors = {}
        for name, widget in self._widgets:
            try:
                setattr(instance, name, widget.clean(row[name]))
            except ValueError as error:
                errors[name] = ValidationError(str(error), code="invalid")
        if errors:
            raise ValidationError(errors)
        price, kwh = instance.cost_per_kwh, instance.charge_delivered_kwh
        if price is None or price < 0 or kwh < 0:
            return  # nothing to derive; a negative value is reported by validation
        try:
            expected = (price * kwh).quantize(PENNY, rounding=ROUND_HALF_UP)
        except InvalidOperation:
            return  # an absurdly long number: validation reports it
        if instance.total_cost_gbp is None:
            if self.derive_missing_totals:
                instance.total_cost_gbp = expected
        elif abs(instance.total_cost_gbp - price * kwh) > PENNY:
            message = (
                f"£{instance.total_cost_gbp} differs from cost_per_kwh × kWh = £{expected} by more than a "
                "penny; kept as given."
            )
            self.warnings.append((kwargs.get("row_number", 0), "total_cost_gbp", message))

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """The model fields' validators and the model's cross-field rules, without a query per row.

        The same validators `full_clean` runs, on the values the widgets typed (so no second
        parse), skipping empty values (the widgets already refused a missing required one).
        """
        errors = dict(import_validation_errors or {})
        for model_field in self._model_fields:
            value = getattr(instance, model_field.attname)
            if model_field.name in errors or value in model_field.empty_values:
                continue
            try:
                model_field.run_validators(value)
            except ValidationError as error:
                errors[model_field.name] = error.error_list
        if not errors:
            try:
                instance.clean()
            except ValidationError as error:
                errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """A row whose key is in the database or earlier in the file is a duplicate: skipped."""
        return not import_validation_errors and self._key(instance) in self.known_keys

    @staticmethod
    def _key(instance) -> tuple:
        return (instance.date, instance.odometer, instance.charge_delivered_kwh)

    def import_chunk(
        self, rows: list[list[str]], columns: list[str], *, dry_run: bool, seen: SeenKeys, scope: int
    ) -> "ChunkOutcome":
        """Import rows (cells in `columns` order) the way the library's `import_data` would.

        Each row goes through the resource's hooks (init_instance, import_instance, skip_row,
        validate_instance), so the rules and messages are the library's shape. Left out: the
        library's per-row bookkeeping (results, diffs), several times slower than the insert
        itself, and holding every key in memory: the keys that can make a row of this
        chunk a duplicate are looked up for the chunk (the database by the chunk's dates, the
        file's earlier rows in `seen`, under this car's `scope`). Call it inside a transaction,
        then `finish()`.
        """
        outcome = ChunkOutcome()
        parsed = []
        for number, cells in enumerate(rows, start=1):
            row = dict(zip(columns, cells, strict=True))
            instance = self.init_instance(row)
            try:
                self.import_instance(instance, row, row_number=number)
                errors = {}
            except ValidationError as error:
                errors = error.update_error_dict({})
            parsed.append((number, row, instance, errors))

        keys = [self._key(instance) for _, _, instance, errors in parsed if not errors]
        self.known_keys = self._chunk_known_keys(keys, seen.among(keys, scope=scope))
        new_sessions, dropped_warnings = [], set()
        for number, row, instance, errors in parsed:
            if self.skip_row(instance, None, row, errors):
                outcome.duplicates += 1
                dropped_warnings.add(number)  # a skipped row is not worth a warning
                continue
            try:
                self.validate_instance(instance, errors)
            except ValidationError as error:
                outcome.invalid.append((number, error.message_dict))
                dropped_warnings.add(number)
                continue
            self.known_keys.add(self._key(instance))
            new_sessions.append(instance)
            outcome.new.append(number)
        self.warnings = [warning for warning in self.warnings if warning[0] not in dropped_warnings]
        seen.add((self._key(session) for session in new_sessions), scope=scope)
        outcome.inserted = len(new_sessions)
        if new_sessions and not dry_run:
            ChargingSession.objects.bulk_create(new_sessions, batch_size=self._meta.batch_size)
        return outcome

    def _chunk_known_keys(self, keys: list[tuple], seen_in_file: set[tuple]) -> set[tuple]:
        known = seen_in_file
        if not self.car_is_empty and keys:
            dates = sorted({key[0] for key in keys})
            # Padded to a power of two with dates of the year 1 (Django drops repeated values):
            # each new number of dates would be new SQL, and SQLite keeps 128 prepared
            # statements with all their placeholders, some 25 MB. Only real keys match below.
            padding = (1 << (len(dates) - 1).bit_length()) - len(dates)
            dates += [dt.date.min + dt.timedelta(days=day) for day in range(padding)]
            stored = ChargingSession.objects.filter(user=self.user, car=self.car, date__in=dates)
            known |= set(stored.values_list(*DUPLICATE_KEY)) & set(keys)
        return known

    def finish(self, *, dry_run: bool, inserted: bool) -> None:
        """After the last chunk: the baseline of the car, once."""
        if inserted and not dry_run:
            baseline_recompute(car_ids=[self.car.pk])


@dataclass
class ChunkOutcome:
    inserted: int = 0
    duplicates: int = 0
    new: list[int] = field(default_factory=list)  # row in chunk of each new session
    invalid: list[tuple[int, dict[str, list[str]]]] = field(default_factory=list)  # (row in chunk, errors)
