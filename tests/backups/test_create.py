import csv
import io
import json
import re
import zipfile

from backups import schema
from backups.models import Backup
from backups.services import backup_create
from settings_app.models import Setting

from .zip_helpers import read_members


def test_the_zip_has_the_documented_members_and_manifest(account, backup_path):
    members = read_members(backup_path)
    assert sorted(members) == sorted(schema.MEMBERS)
    manifest = json.loads(members["manifest.json"])
    assert manifest["app"] == "PlugTrack" and manifest["schema_version"] == schema.SCHEMA_VERSION
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", manifest["created_at"])
    assert (manifest["user_id"], manifest["username"]) == (account.pk, "alice")
    assert manifest["counts"] == {"cars": 2, "sessions": 3, "settings": 10}
    assert set(manifest["members"]) == {"schema_version.txt", "sessions.csv", "cars.csv", "settings.json"}
    assert members["schema_version.txt"] == f"{schema.SCHEMA_VERSION}\n".encode()


def test_cars_csv_has_the_seed_columns_then_active(account, backup_path):
    rows = list(csv.DictReader(io.StringIO(read_members(backup_path)["cars.csv"].decode())))
    assert list(rows[0]) == list(schema.CARS_COLUMNS)
    zoe = next(row for row in rows if row["name"] == "Zoe")
    assert (zoe["active"], zoe["recommended_full_charge_frequency_unit"], zoe["battery_kwh"]) == ("0", "days", "52")


def test_sessions_csv_ties_each_row_to_its_car(account, backup_path):
    members = read_members(backup_path)
    cars = {row["id"]: row["name"] for row in csv.DictReader(io.StringIO(members["cars.csv"].decode()))}
    sessions = list(csv.DictReader(io.StringIO(members["sessions.csv"].decode(), newline="")))
    assert list(sessions[0]) == list(schema.SESSIONS_COLUMNS)
    assert sorted(cars[row["car_id"]] for row in sessions) == ["Niro", "Niro", "Zoe"]
    assert sessions[0]["notes"] == 'two\nlines, "quoted"' and sessions[0]["location_label"] == "'=Gridserve"


def test_an_encrypted_setting_is_written_as_its_ciphertext(account, backup_path):
    settings = json.loads(read_members(backup_path)["settings.json"])
    stored = Setting.objects.get(user=account, key="notification_url")
    assert settings["notification_url"] == {"encrypted": True, "ciphertext": stored.value}
    assert settings["petrol_mpg"] == "45"
    assert "hooks.example" not in json.dumps(settings)


def test_a_folder_target_gets_the_default_name_and_the_backup_is_recorded(account, tmp_path):
    backup = backup_create(user=account, target=tmp_path)
    assert re.fullmatch(r"plugtrack_backup_alice_\d{8}T\d{12}Z\.zip", backup.path.rsplit("/", 1)[1])
    assert zipfile.is_zipfile(backup.path)
    record = Backup.objects.get()
    assert (record.kind, record.cars, record.sessions, record.settings) == ("manual", 2, 3, 10)
    assert record.size_bytes == (tmp_path / backup.path.rsplit("/", 1)[1]).stat().st_size
    assert [p.suffix for p in tmp_path.iterdir()] == [".zip"]  # no temporary file left


def test_without_a_target_the_backup_goes_under_the_data_folder(account, settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path
    backup = backup_create(user=account)
    assert backup.path.startswith(str(tmp_path / "backups" / str(account.pk)))
