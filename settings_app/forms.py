from django import forms
from django.core.exceptions import ValidationError

from . import crypto
from .models import Setting
from .registry import SETTINGS, Kind, SettingDefinition, Tab

UNREADABLE_SECRET = (
    "A value is stored, but none of the keys in PLUGTRACK_ENCRYPTION_KEYS can read it: it was encrypted with a key "
    "this installation no longer has (a backup from another installation, say). Add that key after the current "
    "one, or enter the value again here. "
)


class RegistryField(forms.CharField):
    """A text input validated and typed by the registry definition."""

    def __init__(self, *, definition: SettingDefinition, **kwargs):
        self.definition = definition
        super().__init__(**kwargs)

    def to_python(self, value):
        return self.definition.parse(super().to_python(value))


def _form_field(definition: SettingDefinition) -> forms.Field:
    common = {"label": definition.label, "help_text": definition.help_text}
    if definition.kind is Kind.DECIMAL:
        # Checked by the registry alone (one message per mistake); the browser is told the bounds.
        bounds = {"min": definition.minimum, "max": definition.maximum, "step": definition.step}
        return RegistryField(definition=definition, widget=forms.NumberInput(attrs=bounds), **common)
    if definition.kind is Kind.BOOL:
        return forms.BooleanField(required=False, **common)
    if definition.secret:  # (blank: keep the stored value)
        return RegistryField(
            definition=definition,
            required=False,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            **common,
        )
    widget = forms.Textarea(attrs={"class": "pt-word-list", "rows": 3}) if definition.kind is Kind.WORD_LIST else None
    return RegistryField(definition=definition, required=not definition.may_be_empty, widget=widget, **common)


class UserSettingsForm(forms.Form):
    """Every registry key of one user, grouped by tab. Secrets are write-only: blank keeps them."""

    def __init__(self, *args, stored: dict[str, Setting], **kwargs):
        initial = {}
        for key, definition in SETTINGS.items():
            if definition.secret:
                continue  # never sent back to the browser
            text = stored[key].value if key in stored else definition.default
            try:
                initial[key] = definition.parse(text)
            except ValidationError:
                initial[key] = definition.parse(definition.default)
            if definition.kind is Kind.WORD_LIST:
                initial[key] = definition.serialize(initial[key])
        super().__init__(*args, initial=initial, **kwargs)
        self.secrets_set = {key for key, setting in stored.items() if setting.encrypted and setting.value}
        for key, definition in SETTINGS.items():
            self.fields[key] = _form_field(definition)
            if definition.secret:
                if key not in self.secrets_set:
                    self.fields[key].help_text = "Not set. "
                elif crypto.readable(stored[key].value):
                    self.fields[key].help_text = "A value is stored (hidden). Leave blank to keep it. "
                else:
                    self.fields[key].help_text = UNREADABLE_SECRET
                if key in self.secrets_set:
                    self.fields[f"{key}__clear"] = forms.BooleanField(required=False, label="Remove the stored value")
                self.fields[key].help_text += definition.help_text

    def tabs(self) -> list[tuple[Tab, list[forms.BoundField], int]]:
        """(tab, its fields, how many of them have an error) for each tab."""
        tabs = []
        for tab in Tab:
            fields = [self[name] for name in self.fields if SETTINGS[name.removesuffix("__clear")].tab is tab]
            tabs.append((tab, fields, sum(bool(field.errors) for field in fields)))
        return tabs

    def values(self) -> dict[str, object]:
        """Typed values for `settings_update`: a secret left blank is None (keep the stored one)."""
        values = {}
        for key, definition in SETTINGS.items():
            value = self.cleaned_data[key]
            if definition.secret:
                value = "" if self.cleaned_data.get(f"{key}__clear") else (value or None)
            values[key] = value
        return values
