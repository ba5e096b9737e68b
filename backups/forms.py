from django import forms

from plugtrack_site.errors import PlugTrackError
from settings_app import crypto

from .models import BackupSchedule
from .services import MODES, PASSPHRASE_MIN_CHARS, passphrase_check


class BackupCreateForm(forms.Form):
    """A backup made now: a plain ZIP, or encrypted with the owner's backup passphrase (the one saved for
    their scheduled backups, when there is one, or one typed here twice, used once and never kept)."""

    PLAIN, SAVED, TYPED = "plain", "saved", "typed"

    encryption = forms.ChoiceField(label="Encrypt it?", widget=forms.RadioSelect)
    _OPENED = (
        "Encrypted, 7-Zip, WinZip or PlugTrack's restore open it with the passphrase, and nothing opens it without: "
        "keep the passphrase somewhere other than this machine. A plain ZIP is read by anyone who has the file."
    )
    passphrase = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput,
        help_text=f"Only to encrypt with a passphrase typed here: at least {PASSPHRASE_MIN_CHARS} characters. It is "
        "used for this backup and not kept.",
    )  # fmt: skip
    passphrase_again = forms.CharField(required=False, strip=False, widget=forms.PasswordInput)

    def __init__(self, *args, schedule: BackupSchedule | None = None, **kwargs):
        """`schedule`: the owner's, whose saved passphrase is offered (read here, never shown)."""
        super().__init__(*args, **kwargs)
        self.saved = schedule.passphrase if schedule and schedule.passphrase else ""
        choices = [(self.PLAIN, "No: a plain ZIP")]
        if self.saved:
            choices.append((self.SAVED, "Yes, with my backup passphrase"))
        choices.append((self.TYPED, "Yes, with a passphrase typed below"))
        self.fields["encryption"].choices = choices
        saved = "Your backup passphrase is the one saved for your scheduled backups. " if self.saved else ""
        self.fields["encryption"].help_text = saved + self._OPENED
        self.fields["encryption"].initial = self.SAVED if self.saved and schedule.encrypt else self.PLAIN

    def clean(self):
        cleaned = super().clean()
        encryption = cleaned.get("encryption")
        if encryption == self.SAVED and not crypto.readable(self.saved):
            self.add_error(
                "encryption", "The saved passphrase cannot be read with the keys this installation has: type one."
            )
        if encryption == self.TYPED:
            passphrase = cleaned.get("passphrase") or ""
            try:
                passphrase_check(passphrase)
            except PlugTrackError as error:
                self.add_error("passphrase", str(error))
            else:
                if passphrase != cleaned.get("passphrase_again"):
                    self.add_error("passphrase_again", "The two passphrases differ.")
        return cleaned


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
