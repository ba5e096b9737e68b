from django import forms
from django.core.exceptions import ValidationError

from .csv_format import HEADER
from .models import ChargingSession
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
    return {name: cleaned.get(name) for name in ("car", "date", "odometer", "charge_delivered_kwh")}


class SessionsImportForm(forms.Form):
    """A sessions CSV and the car to import it into, chosen among the user's own cars."""

    car = forms.ModelChoiceField(queryset=None, help_text="The sessions in the file are added to this car.")
    import_file = forms.FileField(
        label="CSV file", help_text="PlugTrack's own sessions CSV, or your own spreadsheet saved as CSV."
    )
    file_format = forms.ChoiceField(
        label="Format", initial="auto", required=False,  # left out (a script's post): PlugTrack's own
        choices=[("auto", "Detect it"), ("plugtrack", "PlugTrack's own 14 columns"),
                 ("spreadsheet", "My own spreadsheet (Date, Mileage, kWh, Cost, ...)")],
        help_text="Your own file's separator, decimal mark and date order are detected and shown before anything "
        "is written.",
    )  # fmt: skip
    date_order = forms.ChoiceField(
        label="Date order", required=False, help_text="Only needed when the dates could be either (e.g. 03/04/2026).",
        choices=[("", "Detect it"), ("dmy", "day/month/year (25/11/2026)"), ("mdy", "month/day/year (11/25/2026)")],
    )  # fmt: skip
    encoding = forms.ChoiceField(
        label="Encoding", required=False, help_text="Only needed for a file that is not UTF-8.",
        choices=[("", "UTF-8"), ("cp1252", "Windows-1252 (Excel's plain CSV on Windows)")],
    )  # fmt: skip

    def __init__(self, *args, cars, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["car"].queryset = cars
        if cars.values("user").distinct().count() > 1:  # a superuser: say whose car each one is
            self.fields["car"].label_from_instance = lambda car: f"{car} ({car.user})"
        elif cars.count() == 1:
            self.fields["car"].initial = cars.get().pk


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
