"""Reading, seeding, updating and re-encrypting a user's settings."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.dispatch import Signal

from plugtrack_site.account_lock import AccountBusy, account_write_lock

from . import crypto
from .models import Setting
from .registry import SETTINGS

logger = logging.getLogger("plugtrack.settings")


@dataclass(frozen=True)
class UserSettings:
    """A user's non-secret settings, typed. Attribute names are the registry keys."""

    default_efficiency_mpkwh: Decimal
    home_aliases_csv: list[str]
    public_networks_csv: list[str]
    not_home_places_csv: list[str]  # places the owner said are not home (asked no more)
    home_charging_speed_kw: Decimal
    petrol_price_p_per_litre: Decimal
    petrol_mpg: Decimal
    allow_efficiency_fallback: bool
    max_price_per_kwh: Decimal

    @classmethod
    def from_texts(cls, texts: dict[str, str]) -> "UserSettings":
        """Typed settings from stored texts; a missing or unreadable value falls back to its default."""
        values = {}
        for field in fields(cls):
            definition = SETTINGS[field.name]
            try:
                values[field.name] = definition.parse(texts.get(field.name, definition.default))
            except ValidationError:
                logger.warning("setting_invalid key=%s action=using_default", field.name)
                values[field.name] = definition.parse(definition.default)
        return cls(**values)

    @classmethod
    def defaults(cls) -> "UserSettings":
        return cls.from_texts({})


def user_settings(*, user: User | int) -> UserSettings:
    """A user's typed settings (`user` may be a User or its id)."""
    texts = dict(Setting.objects.filter(user=user, encrypted=False).values_list("key", "value"))
    return UserSettings.from_texts(texts)


def user_settings_many(*, user_ids: Iterable[int]) -> dict[int, UserSettings]:
    """Typed settings of several users, in one query (for lists that show many users' rows)."""
    texts: dict[int, dict[str, str]] = {user_id: {} for user_id in user_ids}
    rows = Setting.objects.filter(user_id__in=texts, encrypted=False).values_list("user_id", "key", "value")
    for user_id, key, value in rows:
        texts[user_id][key] = value
    return {user_id: UserSettings.from_texts(user_texts) for user_id, user_texts in texts.items()}


def settings_seed(*, users=None) -> int:
    """Create every missing registry key with its default, for `users` (default: all users).

    Never touches an existing value. Returns how many settings were created.
    """
    users = User.objects.all() if users is None else users
    created = 0
    for user in users:
        with account_write_lock(user.pk):
            existing = set(Setting.objects.filter(user=user).values_list("key", flat=True))
            missing = [
                # A secret's default is empty, and an empty value has nothing to hide: stored as is.
                Setting(user=user, key=key, value=definition.default, encrypted=False)
                for key, definition in SETTINGS.items()
                if key not in existing
            ]
            Setting.objects.bulk_create(missing)
        created += len(missing)
    if created:
        logger.info("settings_seeded created=%d", created)
    return created


# Sent inside settings_update's transaction with the owner and the keys whose values changed (a secret's
# too: its clear text): an app whose stored figures follow from a setting (the sessions flagged above the
# price ceiling) updates them, an integration that needs a setting of its own (the webhooks' signing secret
# for a Notification URL) makes it.
settings_changed = Signal()


def settings_update(*, user: User, values: dict[str, object]) -> None:
    """Store typed values for registry keys. A secret given as None is left unchanged."""
    unknown = set(values) - set(SETTINGS)
    if unknown:
        raise ValidationError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    changed = []
    with account_write_lock(user.pk):
        for key, value in values.items():
            definition = SETTINGS[key]
            if definition.secret and value is None:
                continue
            text = definition.serialize(value)
            definition.parse(text)  # the same validation whatever the caller checked
            encrypted = definition.secret and text != ""
            if _stored_text(user, key) != text:
                changed.append(key)
            Setting.objects.update_or_create(
                user=user,
                key=key,
                defaults={"value": crypto.encrypt(text) if encrypted else text, "encrypted": encrypted},
            )
        if changed:
            settings_changed.send(sender=settings_update, user=user, keys=changed)
    logger.info("settings_updated user_id=%d keys=%s", user.pk, ",".join(sorted(values)))


def _stored_text(user: User, key: str) -> str | None:
    """A setting's stored value in clear (None: none, or a secret no configured key can read)."""
    setting = Setting.objects.filter(user=user, key=key).first()
    if setting is None or not setting.encrypted:
        return None if setting is None else setting.value
    try:
        return crypto.decrypt(setting.value)
    except crypto.EncryptionKeyError:
        return None


def setting_secret_read(*, user: User, key: str) -> str:
    """The clear text of a secret setting, for the integration that needs it (never for display)."""
    setting = Setting.objects.filter(user=user, key=key).first()
    if setting is None or not setting.value:
        return ""
    return crypto.decrypt(setting.value) if setting.encrypted else setting.value


@dataclass
class KeyRotationReport:
    reencrypted: int
    unreadable: list[tuple[str, str]]  # (username, key) of each secret no configured key can read
    busy: list[str]  # users whose secrets were left for now: another operation held their account


# Sent once every secret setting is re-encrypted under the newest key: an app that keeps its own
# secrets with crypto.encrypt (a scheduled backup's passphrase, a webhook signing secret) re-encrypts
# them on it, and returns what it could not (see settings_rotate_key).
keys_rotated = Signal()


def settings_rotate_key() -> KeyRotationReport:
    """Re-encrypt every secret setting under the newest key, one owner at a time under their
    account's write lock (so a restore cannot slip an old ciphertext in meanwhile).

    A secret that none of the configured keys can read (restored from a backup made under
    another key, say) is left as it is and reported, and does not stop the others; so is an
    owner whose account stayed busy. Raises EncryptionKeyError only when no usable key is
    configured at all.
    """
    crypto.keys_check()
    report = KeyRotationReport(reencrypted=0, unreadable=[], busy=[])
    owners = User.objects.filter(pk__in=Setting.objects.filter(encrypted=True).values("user_id")).order_by("pk")
    for owner in owners:
        try:
            with account_write_lock(owner.pk):
                rotated = []
                for setting in Setting.objects.filter(user=owner, encrypted=True).order_by("key"):
                    try:
                        setting.value = crypto.reencrypt(setting.value)
                    except crypto.EncryptionKeyError:
                        report.unreadable.append((owner.username, setting.key))
                        logger.error("setting_unreadable user=%s key=%s", owner.username, setting.key)
                    else:
                        rotated.append(setting)
                Setting.objects.bulk_update(rotated, ["value"])
        except AccountBusy:
            report.busy.append(owner.username)
        else:
            report.reencrypted += len(rotated)
    # Other apps' secrets under these keys follow; each receiver returns the (username, what) it could not read,
    # or a KeyRotationReport of its own that also names the accounts it found busy.
    for _receiver, theirs in keys_rotated.send(sender=settings_rotate_key):
        if isinstance(theirs, KeyRotationReport):
            report.unreadable += theirs.unreadable
            report.busy += [username for username in theirs.busy if username not in report.busy]
        else:
            report.unreadable += theirs or []
    logger.info(
        "settings_key_rotated reencrypted=%d unreadable=%d busy=%d",
        report.reencrypted, len(report.unreadable), len(report.busy),
    )  # fmt: skip
    return report
