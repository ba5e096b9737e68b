from django import forms
from import_export.forms import ConfirmImportForm, ImportForm


class SessionImportForm(ImportForm):
    """The library's import form plus the car to import into, chosen among the user's own cars."""

    car = forms.ModelChoiceField(queryset=None, help_text="The sessions in the file are added to this car.")
    field_order = ["car", "import_file", "format"]

    def __init__(self, formats, resources, *, cars, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["car"].queryset = cars


class SessionConfirmImportForm(ConfirmImportForm):
    """Carries the car to the confirm step; checked again there, since a hidden field can be forged."""

    car = forms.ModelChoiceField(queryset=None, widget=forms.HiddenInput)

    def __init__(self, *args, cars, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["car"].queryset = cars
