from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from backups.models import Backup
from backups.services import RestoreFailed, RestoreOptions, backup_restore
from cars_app.models import NOTES_MAX_CHARS, Car
from sessions_app.models import ChargingSession
from settings_app.models import Setting
from settings_app.services import setting_secret_read, settings_update

from .conftest import dump
from .zip_helpers import altered, read_members

FIXTURES = Path(__file__).parent / "fixtures"


def wipe(user):
    ChargingSession.objects.filter(user=user).delete()
    Car.objects.filter(user=user).delete()
    Setting.objects.filter(user=user).delete()


def test_round_trip_create_wipe_restore_gives_identical_data(account, backup_path):
    before = dump(account)
    ciphertext = Setting.objects.get(user=account, key="notification_url").value
    wipe(account)

    report = backup_restore(user=account, source=backup_path)

    assert report.ok
    assert dump(account) == before
    assert Setting.objects.get(user=account, key="notification_url").value == ciphertext  # byte-identical
    assert setting_secret_read(user=account, key="notification_url") == "https://hooks.example/s"
    assert (report.cars.inserted, report.sessions.inserted, report.settings.inserted) == (2, 3, 10)


def test_restoring_the_same_backup_twice_changes_nothing_the_second_time(account, backup_path):
    wipe(account)
    backup_restore(user=account, source=backup_path)
    after_first = dump(account)
    report = backup_restore(user=account, source=backup_path)
    assert dump(account) == after_first
    assert (report.cars.inserted, report.cars.updated, report.cars.unchanged) == (0, 0, 2)
    assert (report.settings.inserted, report.settings.updated) == (0, 0)
    assert (report.sessions.inserted, report.sessions.skipped_duplicates) == (0, 3)


def test_merge_updates_cars_and_settings_by_key_and_keeps_what_the_backup_lacks(account, backup_path, make_car):
    Car.objects.filter(user=account, name="Niro").update(battery_kwh=Decimal("99"))
    settings_update(user=account, values={"petrol_mpg": Decimal("70")})
    extra = make_car(account, name="Extra")

    report = backup_restore(user=account, source=backup_path)

    assert Car.objects.get(user=account, name="Niro").battery_kwh == Decimal("64.8")
    assert Setting.objects.get(user=account, key="petrol_mpg").value == "45"
    assert Car.objects.filter(pk=extra.pk).exists()
    assert (report.cars.updated, report.settings.updated) == (1, 1)


def test_replace_writes_an_automatic_backup_then_equals_the_backup(account, backup_path, make_car, settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    expected = dump(account)
    make_car(account, name="Bought later")
    settings_update(user=account, values={"petrol_mpg": Decimal("70")})
    changed = dump(account)

    report = backup_restore(user=account, source=backup_path, mode="replace")

    assert dump(account) == expected
    automatic = Backup.objects.get(kind="automatic")
    assert report.automatic_backup == automatic.path and Path(automatic.path).is_file()
    assert automatic.path.startswith(str(tmp_path / "data" / "backups"))
    assert report.deleted == {"cars": 3, "sessions": 3, "settings": 10}
    # and the automatic backup holds the data as it was just before
    backup_restore(user=account, source=automatic.path, mode="replace")
    assert dump(account) == changed


def test_dry_runs_report_the_counts_and_change_nothing(account, backup_path, make_car):
    make_car(account, name="Bought later")
    before = dump(account)
    merge = backup_restore(user=account, source=backup_path, options=RestoreOptions(dry_run=True))
    replace = backup_restore(user=account, source=backup_path, mode="replace", options=RestoreOptions(dry_run=True))

    assert dump(account) == before
    assert not Backup.objects.filter(kind="automatic").exists()
    assert (merge.cars.unchanged, merge.sessions.skipped_duplicates) == (2, 3)
    assert (replace.cars.inserted, replace.sessions.inserted, replace.settings.inserted) == (2, 3, 10)
    assert replace.deleted == {"cars": 3, "sessions": 3, "settings": 10}
    assert "A real replace would first save your current data as an automatic backup." in replace.notes


def test_a_dry_run_into_an_empty_account_counts_every_session_as_new(account, backup_path, other_owner):
    report = backup_restore(user=other_owner, source=backup_path, options=RestoreOptions(dry_run=True))
    assert (report.cars.inserted, report.sessions.inserted) == (2, 3)
    assert not Car.objects.filter(user=other_owner).exists()


def test_a_replace_that_fails_on_its_last_row_leaves_everything_as_before(account, backup_path, tmp_path, settings):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    members = read_members(backup_path)
    broken_last_row = members["sessions.csv"].decode().rstrip("\n").rsplit("\n", 1)
    broken = broken_last_row[0] + "\n" + broken_last_row[1].replace(",20,", ",-20,") + "\n"
    bad = altered(backup_path, tmp_path / "bad.zip", {"sessions.csv": broken.encode()})
    Car.objects.filter(user=account, name="Niro").update(notes="changed since the backup")
    before = dump(account)

    report = backup_restore(user=account, source=bad, mode="replace")

    assert not report.ok
    assert dump(account) == before
    assert report.sessions.errors[0].row == 5 and report.sessions.errors[0].field == "charge_delivered_kwh"
    assert "Nothing was changed" in report.notes[-1]


def test_a_restore_lets_go_of_its_key_files_whether_it_succeeds_or_fails(
    account, backup_path, tmp_path, settings, opened_key_stores
):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    sessions_csv = read_members(backup_path)["sessions.csv"]
    bad = altered(backup_path, tmp_path / "bad.zip", {"sessions.csv": sessions_csv.replace(b",20,", b",-20,")})
    assert not backup_restore(user=account, source=bad, mode="merge").ok
    assert backup_restore(user=account, source=backup_path, mode="merge").ok
    assert len(opened_key_stores) >= 2 and all(store.closed for store in opened_key_stores)


def test_an_interrupted_restore_leaves_everything_as_before(account, backup_path, monkeypatch):
    before = dump(account)

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    # (when the sessions are in and the cars' figures are recomputed: the restore's last step)
    monkeypatch.setattr("sessions_app.imports.importer.sessions_sequence_recompute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        backup_restore(user=account, source=backup_path, mode="replace")
    assert dump(account) == before


def test_a_disk_or_database_error_is_reported_and_undone(account, backup_path, monkeypatch):
    before = dump(account)

    def failing(**kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sessions_app.imports.importer.sessions_sequence_recompute", failing)
    with pytest.raises(RestoreFailed, match="undone; your data is as before.*No space left"):
        backup_restore(user=account, source=backup_path, mode="replace")
    assert dump(account) == before


def test_other_users_are_never_touched(account, backup_path, other_owner, make_car, make_session):
    make_session(make_car(other_owner, name="Niro"), "2025-01-01", 1000, "30.5")
    theirs = dump(other_owner)
    backup_restore(user=account, source=backup_path, mode="replace")
    backup_restore(user=account, source=backup_path)
    assert dump(other_owner) == theirs


def test_a_backup_restores_into_another_account_with_a_warning(account, backup_path, other_owner):
    report = backup_restore(user=other_owner, source=backup_path)
    assert report.ok and Car.objects.filter(user=other_owner).count() == 2
    assert 'This backup was made of "alice"; it is restored into "bob".' in report.warnings


def test_secrets_under_an_unknown_key_are_kept_encrypted_with_a_warning(account, backup_path, settings):
    ciphertext = Setting.objects.get(user=account, key="notification_url").value
    wipe(account)
    settings.PLUGTRACK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    report = backup_restore(user=account, source=backup_path)

    assert Setting.objects.get(user=account, key="notification_url").value == ciphertext
    assert any(
        "“Notification URL (secret)” were encrypted with a key this installation does not have" in w
        for w in report.warnings
    )


def test_a_merge_keeps_a_readable_secret_rather_than_an_unreadable_one(account, backup_path, settings):
    settings.PLUGTRACK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the backup's key is gone
    settings_update(user=account, values={"notification_url": "https://hooks.example/current"})

    report = backup_restore(user=account, source=backup_path)

    assert setting_secret_read(user=account, key="notification_url") == "https://hooks.example/current"
    assert (
        "The backup's “Notification URL (secret)” cannot be read with the keys this installation has, so your "
        "current one was kept." in report.warnings
    )
    assert (report.settings.updated, report.settings.unchanged) == (0, 10)


def test_every_restored_car_has_its_baseline(account, backup_path):
    ChargingSession.objects.filter(user=account).update(is_baseline=False)
    wipe(account)
    backup_restore(user=account, source=backup_path)
    for car in Car.objects.filter(user=account):
        first = car.sessions.order_by("date", "odometer", "id").first()
        assert list(car.sessions.filter(is_baseline=True)) == [first]


def test_an_older_schema_backup_is_upgraded_on_restore(owner):
    report = backup_restore(user=owner, source=FIXTURES / "backup_schema_v1.zip")
    assert report.ok and report.schema_version == 1
    car = Car.objects.get(user=owner)
    assert (car.name, car.active) == ("Leaf", True)  # schema 1 had no `active`: every car was active
    assert car.sessions.count() == 2


def test_a_schema_2_backup_restores_unchanged(owner):
    report = backup_restore(user=owner, source=FIXTURES / "backup_schema_v2.zip")
    assert report.ok and report.schema_version == 2
    car = Car.objects.get(user=owner)
    assert (car.name, car.active, car.notes) == ("Ioniq", False, "sold in 2026")
    assert list(car.sessions.order_by("date").values_list("odometer", "notes")) == [
        (8000, ""),
        (8210, "cold, slow start"),
    ]


def test_the_longest_notes_survive_a_backup(account, make_car, make_session, tmp_path):
    from backups.services import backup_create

    longest = ('"quoted", \n' * NOTES_MAX_CHARS)[:NOTES_MAX_CHARS]  # every quote doubled in the CSV
    car = make_car(account, name="Long", notes=longest)
    make_session(car, "2025-01-01", 10, "5", notes=longest)
    path = backup_create(user=account, target=tmp_path / "long.zip").path
    before = dump(account)
    wipe(account)
    assert backup_restore(user=account, source=path).ok
    assert dump(account) == before


# The restore's report says which settings change, from what to what; a secret only that it changes
# (issue 22, point 5).

SECRETS = ("https://hooks.example/s", "https://other.example/new")


def settings_changed_since_the_backup(user):
    """The account after its backup: four settings changed (one of them the secret), the others as backed up."""
    networks = Setting.objects.get(user=user, key="public_networks_csv").value.split(",")
    settings_update(user=user, values={
        "petrol_mpg": Decimal("50"), "allow_efficiency_fallback": False, "home_aliases_csv": ["home", "driveway"],
        "notification_url": SECRETS[1], "public_networks_csv": [*networks, "Carport Power"],
    })  # fmt: skip


def test_a_dry_run_lists_each_setting_it_changes_from_what_to_what_and_never_a_secrets_value(account, backup_path):
    settings_changed_since_the_backup(account)
    before = dump(account)
    report = backup_restore(user=account, source=backup_path, options=RestoreOptions(dry_run=True))
    assert [change.text for change in report.setting_changes] == [
        "Home location words: home, driveway → home, house, garage",
        "Public charging networks: 23 words → 22 words (leaves out “Carport Power”)",
        "Petrol car economy (UK mpg): 50 → 45",
        "Allow efficiency fallback: off → on",
        "Notification URL (secret): changed (a secret: its values are not shown)",
    ]
    assert report.settings.updated == len(report.setting_changes) == 5 and dump(account) == before
    shown = str(report.to_dict())
    ciphertexts = Setting.objects.filter(user=account, encrypted=True).values_list("value", flat=True)
    assert not any(secret in shown for secret in (*SECRETS, *ciphertexts))


def test_a_replace_lists_the_changes_from_the_account_as_it_was(account, backup_path):
    settings_update(user=account, values={"petrol_mpg": Decimal("50")})
    report = backup_restore(user=account, source=backup_path, mode="replace")
    assert [change.text for change in report.setting_changes] == ["Petrol car economy (UK mpg): 50 → 45"]
    assert report.settings.inserted == 10  # (a replace writes every setting again)
    assert backup_restore(user=account, source=backup_path, mode="replace").setting_changes == []


def test_a_replace_says_a_setting_the_backup_lacks_goes_back_to_its_default(account, backup_path, tmp_path):
    import json

    settings = json.loads(read_members(Path(backup_path))["settings.json"])
    del settings["petrol_mpg"]  # (an older backup, say): the account is left with the default
    lacking = altered(Path(backup_path), tmp_path / "lacking.zip", {"settings.json": json.dumps(settings).encode()})
    report = backup_restore(user=account, source=lacking, mode="replace", options=RestoreOptions(dry_run=True))
    assert [change.text for change in report.setting_changes] == ["Petrol car economy (UK mpg): 45 → 60.0"]


def test_the_command_prints_the_settings_that_change_and_no_secret(account, backup_path):
    from io import StringIO

    from django.core.management import call_command

    settings_changed_since_the_backup(account)
    out = StringIO()
    call_command("backup_restore", "--from", str(backup_path), "--dry-run", stdout=out)
    text = out.getvalue()
    assert "  settings that would change:\n" in text
    assert "    Petrol car economy (UK mpg): 50 → 45\n" in text and "    Allow efficiency fallback: off → on\n" in text
    assert "    Notification URL (secret): changed (a secret: its values are not shown)\n" in text
    assert not any(secret in text for secret in SECRETS) and "notification_url" not in text
