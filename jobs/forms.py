from django import forms


class JobConfirmForm(forms.Form):
    """Names a checked job by its token; what it runs on (file, car, mode) is kept server-side."""

    token = forms.CharField(widget=forms.HiddenInput)
