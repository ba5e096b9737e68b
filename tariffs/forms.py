"""The tariffs' admin forms: a band's days and months as boxes to tick, a version's bands checked
together (no overlap), the recompute's choice of sessions, and the tariff file's upload."""

from django import forms
from django.core.exceptions import ValidationError

from cars_app.models import Car

from .file_format import MAX_FILE_BYTES
from .models import MONTHS, WEEKDAY_NAMES, WEEKDAYS, Band, bands_overlaps

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class BitsField(forms.TypedMultipleChoiceField):
    """A set of weekdays or months kept as bits (bit 0: Monday, or January), shown as boxes to tick."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, *, names: tuple[str, ...], labels: tuple[str, ...], **kwargs):
        super().__init__(choices=[(str(bit), label[:3]) for bit, label in enumerate(labels)], coerce=int, **kwargs)
        self.names = names

    def prepare_value(self, value):
        if isinstance(value, int):
            return [str(bit) for bit in range(len(self.names)) if value & (1 << bit)]
        return value

    def clean(self, value):
        return sum(1 << bit for bit in set(super().clean(value)))

    def has_changed(self, initial, data):
        return super().has_changed(self.prepare_value(initial), data)


class BandForm(forms.ModelForm):
    days = BitsField(names=WEEKDAYS, labels=WEEKDAY_NAMES, help_text="The days it starts on.")
    months = BitsField(names=MONTHS, labels=MONTH_NAMES, required=False, help_text="None ticked: every month.")

    class Meta:
        model = Band
        fields = ["name", "days", "months", "start", "end", "p_per_kwh"]
        widgets = {"start": forms.TimeInput(format="%H:%M"), "end": forms.TimeInput(format="%H:%M")}


class BandsFormSet(forms.BaseInlineFormSet):
    """A version's bands, checked together as TeslaMateAgile checks them: no two may price the same
    time (a gap between them is the default price); a refusal names the weekdays and times."""

    def clean(self):
        super().clean()
        bands = []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE") or not form.cleaned_data:
                continue
            data = form.cleaned_data
            if all(data.get(name) is not None for name in ("start", "end", "days")):
                bands.append(
                    Band(start=data["start"], end=data["end"], days=data["days"], months=data.get("months", 0))
                )
        overlaps = bands_overlaps(bands)
        if overlaps:
            raise ValidationError(
                [
                    f"{overlap}: bands may leave gaps (the default price applies there) but not overlap."
                    for overlap in overlaps
                ]  # fmt: skip
            )


class CostsRecomputeForm(forms.Form):
    """Which sessions to work the costs of out again: a car's (or every car's), between two dates."""

    car = forms.ModelChoiceField(queryset=Car.objects.none(), required=False, empty_label="every car")
    date_from = forms.DateField(label="From", required=False, help_text="YYYY-MM-DD; blank: from the first session.")
    date_to = forms.DateField(label="To", required=False, help_text="YYYY-MM-DD, included; blank: to the last.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["car"].queryset = Car.objects.filter(user=user)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError("“To” is before “From”.")
        return data


class TariffsFileForm(forms.Form):
    tariffs_file = forms.FileField(
        label="Tariff file (JSON)",
        help_text=f"PlugTrack's tariff file, at most {MAX_FILE_BYTES // 1024 // 1024} MB: its tariffs replace yours "
        "of the same name, its assignments replace yours.",
    )
