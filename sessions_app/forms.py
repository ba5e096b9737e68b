import json

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from .imports.choices import ImportChoices
from .imports.csv_format import HEADER, CsvFileError
from .imports.formats.mapping import UNIT_NAMES, UNITS, ColumnMapping
from .imports.formats.mapping_json import mapping_data_check, mapping_header_checked, mapping_json_checked
from .models import DUPLICATE_KEY, ChargingSession, MappingProfile
from .plausibility import session_problems


class _NotCarriedOver(forms.HiddenInput):
    """The "save anyway" box while it is not shown: a tick given for other figures is never resent."""

    def format_value(self, value):
        return ""


class ChargingSessionForm(forms.ModelForm):
    """A session; one that the plausibility checks would flag is saved only once the person has
    read why and ticked "save anyway" (the box shows only then)."""

    save_despite_checks = forms.BooleanField(
        label="Save anyway", required=False, widget=_NotCarriedOver,
        help_text="These figures are right: save the session, marked \"check\" and left out of efficiency.",
    )  # fmt: skip

    class Meta:
        model = ChargingSession
        fields = ["car", *HEADER]  # not the user: always the car's owner

    def clean(self):
        cleaned = super().clean()
        self._clean_duplicate(cleaned)
        if not self.errors and not cleaned.get("save_despite_checks"):
            self._warn_of_checks(cleaned)
        return cleaned

    def _warn_of_checks(self, cleaned: dict) -> None:
        values = _key_values(cleaned)
        if any(value is None for value in values.values()):
            return
        problems = session_problems(ChargingSession(pk=self.instance.pk, **values))
        if problems:
            self.fields["save_despite_checks"].widget = forms.CheckboxInput()
            raise ValidationError(
                [f"Please check: {problem}" for problem in problems]
                + ['If the figures are right, tick "Save anyway" below and save again.']
            )

    def _clean_duplicate(self, cleaned: dict) -> None:
        # The duplicate key includes the owner, who is not a form field, so Django cannot check
        # it: check it here, with a message instead of a database error.
        key = _key_values(cleaned)
        if all(value is not None for value in key.values()):
            clash = ChargingSession.objects.filter(**key).exclude(pk=self.instance.pk)
            if clash.exists():
                raise ValidationError(
                    f"{key['car']} already has a session on {key['date']} at {key['odometer']} miles with "
                    f"{key['charge_delivered_kwh']} kWh. Change one of these, or edit that session instead."
                )


def _key_values(cleaned: dict) -> dict:
    """The values that place a session among its car's (and make it a duplicate)."""
    return {name: cleaned.get(name) for name in ("car", *DUPLICATE_KEY)}


class SessionsImportForm(forms.Form):
    """A sessions CSV, the car to import it into (among the user's own cars), and how to read an
    owner's own file (ImportChoices, checked in `clean`)."""

    car = forms.ModelChoiceField(queryset=None, help_text="The sessions in the file are added to this car.")
    import_file = forms.FileField(
        label="CSV file", help_text="PlugTrack's own sessions CSV, your own spreadsheet saved as CSV, or an export "
        "of evcc or TeslaFi.",
    )  # fmt: skip
    file_format = forms.ChoiceField(
        label="Format", initial="auto", required=False,  # left out (a script's post): PlugTrack's own
        choices=[("auto", "Detect it"), ("plugtrack", "PlugTrack's own 14 columns"),
                 ("spreadsheet", "My own spreadsheet (Date, Mileage, kWh, Cost, ...)"),
                 ("evcc", "evcc's sessions CSV"), ("teslafi", "TeslaFi's data export (sessions rebuilt from polls)")],
        help_text="Your own file's separator, decimal mark, date order and columns are detected and shown before "
        "anything is written; you may change the columns.",
    )  # fmt: skip
    date_order = forms.ChoiceField(
        label="Date order", required=False, help_text="Only needed when the dates could be either (e.g. 03/04/2026).",
        choices=[("", "Detect it"), ("dmy", "day/month/year (25/11/2026)"), ("mdy", "month/day/year (11/25/2026)")],
    )  # fmt: skip
    encoding = forms.ChoiceField(
        label="Encoding", required=False, help_text="Only needed for a file that is not UTF-8.",
        choices=[("", "UTF-8"), ("cp1252", "Windows-1252 (Excel's plain CSV on Windows)")],
    )  # fmt: skip
    time_zone = forms.CharField(
        label="Time zone", required=False, max_length=60,
        help_text="Only needed for date-times with an offset (2026-11-25T23:30:00Z): your zone, e.g. Europe/London.",
    )  # fmt: skip
    currency = forms.CharField(
        label="Currency of its costs", required=False, max_length=4,
        help_text='Blank: pounds. Another (EUR, USD...) needs its rate; "none" leaves the costs out. '
        "evcc's prices are in the currency evcc is set to: say which.",
    )  # fmt: skip
    rate = forms.DecimalField(
        label="Exchange rate", required=False, min_value=0, decimal_places=6,
        help_text="Pounds per unit of that currency, e.g. 0.86 for euros.",
    )  # fmt: skip
    blank_odometer = forms.ChoiceField(
        label="A row without an odometer", required=False, initial="error",
        choices=[("error", "is an error of that row"), ("skip", "is left out (a warning)"),
                 ("previous", "takes the previous session's odometer (said in its notes)")],
    )  # fmt: skip

    def __init__(self, *args, cars, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["car"].queryset = cars
        if cars.values("user").distinct().count() > 1:  # a superuser: say whose car each one is
            self.fields["car"].label_from_instance = lambda car: f"{car} ({car.user})"
        elif cars.count() == 1:
            self.fields["car"].initial = cars.get().pk

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["choices"] = ImportChoices(
                date_order=cleaned.get("date_order") or None, encoding=cleaned.get("encoding") or None,
                time_zone=cleaned.get("time_zone") or None, currency=cleaned.get("currency") or None,
                rate=cleaned.get("rate"), blank_odometer=cleaned.get("blank_odometer") or "error",
            )  # fmt: skip
        except CsvFileError as error:
            raise ValidationError(error.for_admin()) from None
        return cleaned


class ColumnMappingForm(forms.Form):
    """Which of the file's columns is each PlugTrack field, in which unit; proposed, then the person's."""

    save_as = forms.CharField(
        label="Save this mapping as", required=False, max_length=80,
        help_text="A name, to have it offered again for files with these headings (Column mappings, in the admin); "
        "a saved mapping of that name is replaced.",
    )  # fmt: skip

    def __init__(self, *args, header: list[str], proposal: ColumnMapping, odometer_optional: bool = False, **kwargs):
        """`odometer_optional`: the person chose to take each odometer from the session before."""
        super().__init__(*args, **kwargs)
        self.header, self.odometer_optional = header, odometer_optional
        headings = [("", "— not in the file —"), *((heading, heading) for heading in header if heading)]
        self.rows = []
        for column in HEADER:
            label = str(ChargingSession._meta.get_field(column).verbose_name)
            self.fields[f"column_{column}"] = forms.ChoiceField(
                label=label, choices=headings, required=False, initial=proposal.headings.get(column, "")
            )
            unit = None
            if column in UNITS:
                self.fields[f"unit_{column}"] = unit = forms.ChoiceField(
                    label=f"{label}: unit", initial=proposal.unit(column),
                    choices=[(choice, UNIT_NAMES[choice]) for choice in UNITS[column]],
                )  # fmt: skip
            self.rows.append((self[f"column_{column}"], self[f"unit_{column}"] if unit else None))
        self.fields["charge_type_fixed"] = forms.ChoiceField(
            label="With no AC/DC column, every session is", required=False,
            initial=proposal.fixed.get("charge_type", ""),
            choices=[("", "— (the file says)"), ("AC", "AC"), ("DC", "DC")],
        )  # fmt: skip
        self.name = proposal.name
        self.fixed_kept = {column: value for column, value in proposal.fixed.items() if column != "charge_type"}

    def clean(self):
        cleaned = super().clean()
        headings = {column: cleaned[f"column_{column}"] for column in HEADER if cleaned.get(f"column_{column}")}
        units = {column: cleaned[f"unit_{column}"] for column in UNITS if cleaned.get(f"unit_{column}")}
        # Fixed values the page does not show (a saved mapping's network, say) are kept; none where a column says.
        fixed = {column: value for column, value in self.fixed_kept.items() if column not in headings}
        if cleaned.get("charge_type_fixed") and "charge_type" not in headings:
            fixed["charge_type"] = cleaned["charge_type_fixed"]
        units = {column: unit for column, unit in units.items() if unit != UNITS[column][0]}
        mapping = ColumnMapping(headings=headings, units=units, fixed=fixed, name=cleaned.get("save_as") or self.name)
        try:
            mapping.indexes(self.header, "The file", odometer_optional=self.odometer_optional)
        except CsvFileError as error:
            raise ValidationError(error.for_admin()) from None
        if "charge_type" not in headings and "charge_type" not in fixed:
            raise ValidationError("Choose the AC/DC column, or say what every session is (AC at a home wallbox).")
        cleaned["mapping"] = mapping
        return cleaned


class SessionsExportForm(forms.Form):
    """One of the user's cars (named with its session count) and an optional date range."""

    car = forms.ModelChoiceField(queryset=None, help_text="A file holds one car's sessions: it has no car column.")
    date_from = forms.DateField(required=False, help_text="First day to include (YYYY-MM-DD). Blank: from the start.")
    date_to = forms.DateField(required=False, help_text="Last day to include. Blank: to the latest session.")

    def __init__(self, *args, cars, **kwargs):
        """`cars` annotated with `sessions_count`."""
        super().__init__(*args, **kwargs)
        self.fields["car"].queryset = cars
        self.fields["car"].label_from_instance = lambda car: (
            f"{car} ({car.sessions_count:,} session{'' if car.sessions_count == 1 else 's'})"
        )


class _JsonField(forms.JSONField):
    """JSON typed in a box, read within the bounds of a mapping's JSON (mapping_json.py: 64 KB, no NaN,
    no 5,000-digit number, no text PostgreSQL cannot store, not nested deep) and refused with a
    message however it breaks them; shown again as it was typed. A value stored before those bounds
    were kept is shown in a form a page can carry, to be replaced."""

    def __init__(self, *, what: str, **kwargs):
        self.what = what  # what the messages call it: "The mapping"
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        try:
            return mapping_json_checked(value, self.what)
        except CsvFileError as error:
            raise ValidationError(error.for_admin()) from None

    def bound_data(self, data, initial):
        return InvalidJSONInput(data) if isinstance(data, str) else super().bound_data(data, initial)

    def prepare_value(self, value):
        if isinstance(value, str):  # as typed; or as stored, too deep to read back (models.ReadBackJSONField)
            return value
        try:
            mapping_data_check(value, self.what)
            return json.dumps(value, ensure_ascii=False)
        except CsvFileError:  # stored before the checks: half a character written as \ud800, NaN as NaN
            try:
                return json.dumps(value)
            except (RecursionError, ValueError):
                return ""

    def has_changed(self, initial, data):
        try:
            return super().has_changed(initial, data)
        except (RecursionError, ValueError):  # a stored value json.dumps cannot write: replaced
            return True


class MappingProfileForm(forms.ModelForm):
    """A saved mapping edited as its JSON (what `mapping_profiles --export` writes), checked as an import would."""

    mapping = _JsonField(what="The mapping", help_text=MappingProfile._meta.get_field("mapping").help_text)
    header = _JsonField(
        what="The list of headings", label="headings of the file", required=False,
        help_text='The file\'s headings it is offered for, e.g. ["Date", "Mileage"]; [] to use it by name only.',
    )  # fmt: skip

    class Meta:
        model = MappingProfile
        fields = ["user", "name", "mapping", "header"]

    def clean(self):
        cleaned = super().clean()
        owner = cleaned.get("user") or getattr(self.instance, "user", None)  # (an owner's form has no user field)
        name = cleaned.get("name")
        if (
            owner
            and name
            and MappingProfile.objects.filter(user=owner, name=name).exclude(pk=self.instance.pk).exists()
        ):
            self.add_error("name", f'{owner} has a saved mapping "{name}" already: choose another name.')
        return cleaned

    def clean_mapping(self):
        try:
            ColumnMapping.from_json(self.cleaned_data["mapping"])
        except CsvFileError as error:
            raise ValidationError(error.for_admin()) from None
        return self.cleaned_data["mapping"]

    def clean_header(self):
        try:
            return mapping_header_checked(self.cleaned_data["header"] or [], "The list of headings")
        except CsvFileError as error:
            raise ValidationError(error.for_admin()) from None
