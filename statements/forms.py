from django import forms

from cars_app.models import Car

from .compute import StatementError, StatementRequest, month_parse
from .models import Scheme


class StatementForm(forms.Form):
    """Which statement to make: the car, the month, the scheme and the business miles when entered."""

    car = forms.ModelChoiceField(queryset=Car.objects.none(), empty_label=None)
    month = forms.CharField(max_length=7, help_text="As YYYY-MM, e.g. 2026-05.",
                            widget=forms.TextInput(attrs={"type": "month", "placeholder": "2026-05"}))  # fmt: skip
    scheme = forms.ChoiceField(
        choices=[("", "the car's profile's scheme"), *Scheme.choices], required=False,
        help_text="Left as the profile's, the car needs a reimbursement profile.",
    )  # fmt: skip
    business_miles = forms.DecimalField(
        label="Business miles", required=False, min_value=0, max_value=1_000_000, decimal_places=1,
        help_text="Left blank: as the car's profile says (all the month's miles without one).",
    )  # fmt: skip

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["car"].queryset = Car.objects.filter(user=user).order_by("name", "pk")

    def clean_month(self):
        try:
            return month_parse(self.cleaned_data["month"])
        except StatementError as error:
            raise forms.ValidationError(str(error)) from None

    def request(self) -> StatementRequest:
        data = self.cleaned_data
        return StatementRequest(user=self.user, car=data["car"], month=data["month"], scheme=data["scheme"] or None,
                                business_miles=data["business_miles"])  # fmt: skip
