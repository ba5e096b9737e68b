from decimal import Decimal
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from settings_app.crypto import EncryptionKeyError
from settings_app.models import Setting
from settings_app.registry import SETTINGS
from settings_app.services import (
    UserSettings,
    setting_secret_read,
    settings_rotate_key,
    settings_seed,
    settings_update,
    user_settings,
)


def stored(user) -> dict[str, str]:
    return dict(Setting.objects.filter(user=user).values_list("key", "value"))


def test_a_new_user_gets_every_default(db):
    user = User.objects.create_user("carol")
    assert stored(user) == {key: definition.default for key, definition in SETTINGS.items()}
    assert user_settings(user=user) == UserSettings.defaults()


def test_seeding_again_keeps_what_the_user_changed(owner):
    settings_update(user=owner, values={"petrol_mpg": Decimal("45.5")})
    Setting.objects.filter(user=owner, key="home_aliases_csv").delete()

    created = settings_seed()

    assert created == 1
    assert stored(owner)["petrol_mpg"] == "45.5"
    assert stored(owner)["home_aliases_csv"] == "home,house,garage"
    assert settings_seed() == 0


def test_settings_seed_command_reseeds_one_user_without_overwriting(owner, other_owner):
    settings_update(user=owner, values={"default_efficiency_mpkwh": Decimal("3.3")})
    Setting.objects.filter(key="petrol_mpg").delete()

    call_command("settings_seed", "--user", "alice", stdout=StringIO())

    assert stored(owner)["default_efficiency_mpkwh"] == "3.3"
    assert stored(owner)["petrol_mpg"] == "60.0"
    assert "petrol_mpg" not in stored(other_owner)


def test_settings_seed_command_names_an_unknown_user(owner):
    with pytest.raises(CommandError, match='No user "nobody". Users: alice') as refused:
        call_command("settings_seed", "--user", "nobody")
    assert refused.value.returncode == 2  # the documented exit code of a refused argument, as every command


def test_the_data_migration_seeds_users_who_existed_before(db):
    from importlib import import_module

    from django.apps import apps

    user = User.objects.create_user("dave")
    Setting.objects.filter(user=user).delete()
    import_module("settings_app.migrations.0002_seed_existing_users").seed_existing_users(apps, None)
    assert stored(user) == {key: definition.default for key, definition in SETTINGS.items()}


def test_an_unreadable_stored_value_falls_back_to_the_default(owner):
    Setting.objects.filter(user=owner, key="petrol_mpg").update(value="lots")
    assert user_settings(user=owner).petrol_mpg == Decimal("60.0")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("petrol_mpg", Decimal("5"), "between 10 and 200"),
        ("default_efficiency_mpkwh", Decimal("11"), "between 0.5 and 10"),
        ("home_aliases_csv", ["home", ""], "none empty"),
    ],
)
def test_update_refuses_values_outside_the_registry_rules(owner, key, value, message):
    with pytest.raises(ValidationError, match=message):
        settings_update(user=owner, values={key: value})
    assert stored(owner)[key] == SETTINGS[key].default


def test_update_refuses_unknown_keys(owner):
    with pytest.raises(ValidationError, match="Unknown setting"):
        settings_update(user=owner, values={"colour": "red"})


def test_a_secret_is_ciphertext_in_the_database_and_clear_only_through_the_service(owner):
    settings_update(user=owner, values={"notification_url": "https://hooks.example/secret-token"})

    row = Setting.objects.get(user=owner, key="notification_url")
    assert row.encrypted
    assert "secret-token" not in row.value
    assert "secret-token" not in str(row)
    assert setting_secret_read(user=owner, key="notification_url") == "https://hooks.example/secret-token"


def test_a_secret_given_as_none_is_kept_and_an_empty_one_clears_it(owner):
    settings_update(user=owner, values={"notification_url": "https://hooks.example/a"})
    settings_update(user=owner, values={"notification_url": None})
    assert setting_secret_read(user=owner, key="notification_url") == "https://hooks.example/a"
    settings_update(user=owner, values={"notification_url": ""})
    assert setting_secret_read(user=owner, key="notification_url") == ""


def test_rotation_reencrypts_under_the_newest_key(owner, settings):
    old_key = settings.PLUGTRACK_ENCRYPTION_KEYS[0]
    settings_update(user=owner, values={"notification_url": "https://hooks.example/a"})
    new_key = Fernet.generate_key().decode()
    settings.PLUGTRACK_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("settings_rotate_key", stdout=StringIO())

    ciphertext = Setting.objects.get(user=owner, key="notification_url").value
    assert Fernet(new_key.encode()).decrypt(ciphertext.encode()) == b"https://hooks.example/a"
    settings.PLUGTRACK_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert setting_secret_read(user=owner, key="notification_url") == "https://hooks.example/a"


def test_a_wrong_key_gives_a_clear_error_not_garbage(owner, settings):
    settings_update(user=owner, values={"notification_url": "https://hooks.example/a"})
    settings.PLUGTRACK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(EncryptionKeyError, match="None of the keys in PLUGTRACK_ENCRYPTION_KEYS can decrypt"):
        setting_secret_read(user=owner, key="notification_url")
    stderr = StringIO()
    # (the webhooks' signing secret, made with the URL, under the same lost key)
    with pytest.raises(CommandError, match="2 secret setting") as raised:
        call_command("settings_rotate_key", stdout=StringIO(), stderr=stderr)
    assert raised.value.returncode == 1
    assert "alice: notification_url cannot be read with any key in PLUGTRACK_ENCRYPTION_KEYS" in stderr.getvalue()
    assert "alice: webhook signing secret cannot be read" in stderr.getvalue()


def test_rotation_reencrypts_every_readable_secret_and_names_each_unreadable_one(owner, other_owner, settings):
    old_key = settings.PLUGTRACK_ENCRYPTION_KEYS[0]
    settings_update(user=owner, values={"notification_url": "https://hooks.example/a"})
    settings.PLUGTRACK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings_update(user=other_owner, values={"notification_url": "https://hooks.example/b"})
    bobs = Setting.objects.get(user=other_owner, key="notification_url").value
    new_key = Fernet.generate_key().decode()
    settings.PLUGTRACK_ENCRYPTION_KEYS = [new_key, old_key]  # bob's key is missing

    report = settings_rotate_key()

    # (bob's webhook signing secret, made with his URL, is under his lost key too)
    assert report.reencrypted == 1
    assert report.unreadable == [("bob", "notification_url"), ("bob", "webhook signing secret")]
    alices = Setting.objects.get(user=owner, key="notification_url").value
    assert Fernet(new_key.encode()).decrypt(alices.encode()) == b"https://hooks.example/a"
    assert Setting.objects.get(user=other_owner, key="notification_url").value == bobs  # left as it was


def test_rotation_without_any_key_is_refused(owner, settings):
    settings_update(user=owner, values={"notification_url": "https://hooks.example/a"})
    settings.PLUGTRACK_ENCRYPTION_KEYS = []
    with pytest.raises(CommandError, match="PLUGTRACK_ENCRYPTION_KEYS is not set") as raised:
        call_command("settings_rotate_key", stdout=StringIO())
    assert raised.value.returncode == 2


def test_no_key_configured_refuses_to_store_a_secret(owner, settings):
    settings.PLUGTRACK_ENCRYPTION_KEYS = []
    with pytest.raises(EncryptionKeyError, match="PLUGTRACK_ENCRYPTION_KEYS is not set"):
        settings_update(user=owner, values={"notification_url": "https://hooks.example/a"})
    assert stored(owner)["notification_url"] == ""


def test_a_malformed_key_is_named(owner, settings):
    settings.PLUGTRACK_ENCRYPTION_KEYS = ["not-a-key"]
    with pytest.raises(EncryptionKeyError, match="not a Fernet key"):
        settings_update(user=owner, values={"notification_url": "https://hooks.example/a"})


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_rotation_leaves_a_busy_account_for_later_and_says_so(owner, other_owner, settings, tmp_path):
    from django.db import connection

    from ..processes import AccountLockHeld, busy_timeout_of_one_second

    for user in (owner, other_owner):
        settings_update(user=user, values={"notification_url": f"https://hooks.example/{user}"})
    settings.PLUGTRACK_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.PLUGTRACK_ENCRYPTION_KEYS]
    settings.PLUGTRACK_LOCK_WAIT_SECONDS = 1

    with AccountLockHeld(other_owner.pk, data_dir=tmp_path), busy_timeout_of_one_second():
        report = settings_rotate_key()

    # PostgreSQL locks one account; SQLite has one writer, so every account waits.
    assert report.busy == (["bob"] if connection.vendor == "postgresql" else ["alice", "bob"])
    assert report.reencrypted == (1 if connection.vendor == "postgresql" else 0) and not report.unreadable
