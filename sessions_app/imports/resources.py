"""The sessions CSV schema, owned by one django-import-export resource: its columns, their
widgets, and the hooks that turn a row into a checked session (and a session back into a row).

Every import (the command, the admin's Import page, a backup restore) runs its rows through these
hooks in the import engine (`importer.py`), and every export writes with `export_resource`, so a
file accepted by one is accepted by all, with the same messages. The resource writes nothing to
the database. User and car are context given to it, never columns.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from settings_app.services import user_settings

from ..bounds import BOUND_CODES
from ..models import CHRONOLOGICAL, ChargingSession
from .csv_format import FIELDS
from .widgets import ChargeTypeWidget, DateTimeWidget, DateWidget, DecimalWidget, IntegerWidget, TextWidget

PENNY = Decimal("0.01")
COST_DIFFERS = "a total cost that differs from price × energy"


def _column(name: str, widget: widgets.Widget) -> fields.Field:
    return fields.Field(attribute=name, column_name=name, widget=widget)


class ChargingSessionResource(resources.ModelResource):
    """One car's sessions as the 14-column CSV. Give `user` and `car` when importing."""

    date = _column("date", DateWidget(required=True))
    odometer = _column("odometer", IntegerWidget(required=True))
    charge_type = _column("charge_type", ChargeTypeWidget(required=True))
    charge_power_kw = _column("charge_power_kw", DecimalWidget())
    location_label = _column("location_label", TextWidget())
    charge_network = _column("charge_network", TextWidget())
    charge_delivered_kwh = _column("charge_delivered_kwh", DecimalWidget(required=True))
    duration_mins = _column("duration_mins", IntegerWidget())
    cost_per_kwh = _column("cost_per_kwh", DecimalWidget())
    total_cost_gbp = _column("total_cost_gbp", DecimalWidget())
    soc_from = _column("soc_from", IntegerWidget())
    soc_to = _column("soc_to", IntegerWidget())
    ambient_temp_c = _column("ambient_temp_c", DecimalWidget())
    notes = _column("notes", TextWidget())
    started_at = _column("started_at", DateTimeWidget())
    ended_at = _column("ended_at", DateTimeWidget())

    class Meta:
        model = ChargingSession
        fields = FIELDS
        export_order = FIELDS

    def __init__(self, *, user=None, car=None, as_stored: bool = False, price_ceiling: Decimal | None = None,
                 **kwargs):  # fmt: skip
        """`as_stored` (a restore): the rows are what PlugTrack stored, brought back exactly: no total is
        derived, and a value beyond a hard bound (stored before the bounds, or under a higher price
        ceiling) is kept with a warning, flagged once written, never refused. `price_ceiling`: the
        owner's most a kWh can cost (default: their setting, read once for the whole import)."""
        super().__init__(**kwargs)
        self.user, self.car, self.as_stored = user, car, as_stored
        if price_ceiling is None and user is not None:
            price_ceiling = user_settings(user=user).max_price_per_kwh
        self.price_ceiling = price_ceiling
        self.warnings: list[tuple[int, str, str, str]] = []  # (row number in the dataset, field, message, kind)
        # Looked up once, not per row: the widget of each column, and the model fields to check.
        self._widgets = [(name, self.fields[name].widget) for name in FIELDS]
        self._model_fields = [ChargingSession._meta.get_field(name) for name in FIELDS]

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
                setattr(instance, name, widget.clean(row.get(name, "")))  # (a file without times: blank)
            except ValueError as error:
                errors[name] = ValidationError(str(error), code=getattr(error, "kind", "invalid"))
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
            if not self.as_stored:
                instance.total_cost_gbp = expected
        elif abs(instance.total_cost_gbp - price * kwh) > PENNY:
            message = (
                f"£{instance.total_cost_gbp:,.2f} differs from price × energy, £{expected:,.2f}, by more than a "
                "penny; kept as given."
            )
            self.warnings.append((kwargs.get("row_number", 0), "total_cost_gbp", message, COST_DIFFERS))

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True, row_number: int = 0):
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
                instance.clean(price_ceiling=self.price_ceiling)
            except ValidationError as error:
                errors = error.update_error_dict(errors)
        if self.as_stored:
            errors = self._bounds_kept(errors, row_number)
        if errors:
            raise ValidationError(errors)

    def _bounds_kept(self, errors: dict, row_number: int) -> dict:
        """A restore's values beyond a hard bound: warnings (the session is flagged once written), not errors."""
        kept = {}
        for field_name, field_errors in errors.items():
            beyond = [error for error in field_errors if error.code in BOUND_CODES]
            for error in beyond:
                message = f"{error.messages[0]} Restored as it was stored, marked \"check\" for you to correct."
                self.warnings.append((row_number, field_name, message, error.code))
            if rest := [error for error in field_errors if error not in beyond]:
                kept[field_name] = rest
        return kept
