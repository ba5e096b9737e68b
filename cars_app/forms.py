from django import forms
from django.core.exceptions import ValidationError

from .models import Car


class CarForm(forms.ModelForm):
    class Meta:
        model = Car
        fields = [
            "user",
            "name",
            "make",
            "model",
            "battery_kwh",
            "efficiency_mpkwh",
            "active",
            "recommended_full_charge_enabled",
            "recommended_full_charge_frequency_value",
            "recommended_full_charge_frequency_unit",
            "notes",
        ]

    def clean(self):
        cleaned = super().clean()
        # The natural key includes the owner, who is not a form field for most users, so Django's
        # own unique check cannot run: check it here with a message a person can act on.
        owner = cleaned.get("user") or getattr(self.instance, "user", None)
        make, model = cleaned.get("make"), cleaned.get("model")
        if owner and make and model:
            name = cleaned.get("name") or Car.default_name(make, model)
            clash = Car.objects.filter(user=owner, name=name, make=make, model=model).exclude(pk=self.instance.pk)
            if clash.exists():
                raise ValidationError(f'You already have a {make} {model} named "{name}". Give this one another name.')
        return cleaned
