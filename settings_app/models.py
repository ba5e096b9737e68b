from django.conf import settings
from django.db import models

from .registry import SETTINGS


class Setting(models.Model):
    """One user's value for one key of the settings registry (`settings_app.registry`).

    Values are stored as text; the registry gives each key its type. Secret values are stored as
    Fernet ciphertext with `encrypted` set, and never shown in clear.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plugtrack_settings")
    key = models.CharField(max_length=64)
    value = models.TextField(blank=True)
    encrypted = models.BooleanField(default=False, help_text="The value is Fernet ciphertext.")

    class Meta:
        ordering = ["user", "key"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="setting_key_per_user")]

    def __str__(self) -> str:
        definition = SETTINGS.get(self.key)
        if definition is None:  # a key this version does not know (kept from another one)
            return f"{self.key} = {'••••••' if self.encrypted else self.value}"
        return f"{definition.label} = {'••••••' if self.encrypted else definition.shown(self.value)}"
