from django import forms

from .services import MODES


class RestoreUploadForm(forms.Form):
    backup_file = forms.FileField(label="Backup ZIP", help_text="A file made by PlugTrack's backup.")
    mode = forms.ChoiceField(
        choices=[(mode, mode) for mode in MODES],
        initial="merge",
        widget=forms.RadioSelect,
        help_text="merge: add what is missing and update what changed. "
        "replace: save your current data as an automatic backup, then replace everything with the backup.",
    )

    passphrase = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput,
        help_text="Only for an encrypted backup: the passphrase it was made with.",
    )  # fmt: skip

    def __init__(self, *args, modes=MODES, **kwargs):
        """`modes`: the restore modes this user may use (replace needs the right to delete)."""
        super().__init__(*args, **kwargs)
        self.fields["mode"].choices = [(mode, mode) for mode in modes]
