from django import forms

from .models import BackupSchedule
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


class BackupScheduleForm(forms.ModelForm):
    """When the owner's backups happen, whether encrypted, and how many are kept."""

    passphrase = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput,
        help_text="For encrypted backups: typed once here, kept encrypted. Keep it somewhere else too: without it "
        "the backups cannot be read. Left blank, the one saved before stays.",
    )  # fmt: skip
    passphrase_again = forms.CharField(required=False, strip=False, widget=forms.PasswordInput)

    class Meta:
        model = BackupSchedule
        fields = ["frequency", "hour", "weekday", "encrypt", "keep_daily", "keep_weekly", "keep_monthly"]
        labels = {"keep_daily": "keep daily backups", "keep_weekly": "keep weekly", "keep_monthly": "keep monthly"}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("passphrase") != cleaned.get("passphrase_again"):
            self.add_error("passphrase_again", "The two passphrases differ.")
        return cleaned
