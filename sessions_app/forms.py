from django import forms
from django.core.exceptions import ValidationError

from .csv_format import HEADER
from .models import ChargingSession


class ChargingSessionForm(forms.ModelForm):
    class Meta:
        model = ChargingSession
        fields = ["car", *HEADER]  # not the user: always the car's owner

    def clean(self):
        cleaned = super().clean()
        # The duplicate key includes the owner, who is not a form field, so Django cannot check
        # it: check it here, with a message instead of a database error.
        key = {name: cleaned.get(name) for name in ("car", "date", "odometer", "charge_delivered_kwh")}
        if all(value is not None for value in key.values()):
            clash = ChargingSession.objects.filter(**key).exclude(pk=self.instance.pk)
            if clash.exists():
                raise ValidationError(
                    f"{key['car']} already has a session on {key['date']} at {key['odometer']} miles with "
                    f"{key['charge_delivered_kwh']} kWh. Change one of these, or edit that session instead."
                )
        return cleaned


class SessionsImportForm(forms.Form):
    """A sessions CSV and the car to import it into, chosen among the user's own cars."""

    car = forms.ModelChoiceField(queryset=None, help_text="The sessions in the file are added to this car.")
    import_file = forms.FileField(label="CSV file", help_text="The 14 columns of PlugTrack's sessions CSV.")

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
