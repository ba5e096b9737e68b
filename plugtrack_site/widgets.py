"""Form widgets every admin page shares."""

from decimal import Decimal

from django import forms

from .numbers import decimal_text


class DecimalInput(forms.NumberInput):
    """A decimal in a form as people write it, and as the lists show it: 24.5, not the 24.5000 its column
    keeps (plugtrack_site.numbers). What a person typed is shown again as typed."""

    def format_value(self, value):
        return decimal_text(value) if isinstance(value, Decimal) else super().format_value(value)
