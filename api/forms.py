from django import forms
from django.contrib.auth import authenticate

from cars_app.models import Car

from .models import ApiToken
from .services import DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS


class ApiTokenCreateForm(forms.Form):
    """A new token of the logged-in owner's, made once they have entered their password again."""

    name = forms.CharField(max_length=80, help_text="What will use it, e.g. “Home Assistant” or “evcc script”.")
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple, help_text="Only what it needs."
    )
    cars = forms.ModelMultipleChoiceField(
        queryset=Car.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="The cars it may use. None ticked: all your cars, those you add later included.",
    )  # fmt: skip
    expires_days = forms.IntegerField(
        label="Expires in (days)", min_value=1, max_value=MAX_EXPIRY_DAYS, initial=DEFAULT_EXPIRY_DAYS,
        help_text=f"At most {MAX_EXPIRY_DAYS} days; then make a new one.",
    )  # fmt: skip
    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput,
        help_text="Entered again: whoever can make a token can read and write your log without logging in.",
    )  # fmt: skip

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.fields["cars"].queryset = Car.objects.filter(user=request.user).order_by("name", "pk")

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        # Through the login's backends, so that wrong passwords count towards its lockout (django-axes).
        user = authenticate(self.request, username=self.request.user.get_username(), password=password)
        if user is None or user.pk != self.request.user.pk:
            raise forms.ValidationError("That is not your password.")
        return password
