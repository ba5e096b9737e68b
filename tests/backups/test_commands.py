import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backups.models import Backup
from cars_app.models import Car

from .conftest import dump
from .zip_helpers import altered, read_members


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_backup_create_to_a_folder_uses_the_default_name(account, tmp_path):
    output = run("backup_create", "--to", str(tmp_path))
    path = re.search(r"written to (\S+)", output).group(1)
    assert re.search(r"plugtrack_backup_alice_\d{8}T\d{12}Z\.zip$", path)
    assert "sessions         3" in output


def test_backup_create_json(account, tmp_path):
    data = json.loads(run("backup_create", "--to", str(tmp_path / "a.zip"), "--json"))
    assert data == data | {"ok": True, "path": str(tmp_path / "a.zip"), "cars": 2, "sessions": 3, "settings": 10}


def test_backup_create_into_a_missing_folder_exits_2(account, tmp_path):
    with pytest.raises(CommandError, match="does not exist") as raised:
        run("backup_create", "--to", str(tmp_path / "no" / "a.zip"))
    assert raised.value.returncode == 2


def test_restore_dry_run_json(account, backup_path):
    data = json.loads(run("backup_restore", "--from", backup_path, "--dry-run", "--json"))
    assert data["ok"] is True and data["dry_run"] is True
    assert data["sessions"]["skipped_duplicates"] == 3 and data["cars"]["unchanged"] == 2


def test_replace_asks_first_and_a_no_changes_nothing(account, backup_path, make_car, monkeypatch):
    make_car(account, name="Later")
    before = dump(account)
    monkeypatch.setattr("builtins.input", lambda question: "no")
    with pytest.raises(CommandError, match="Restore cancelled; nothing was changed.") as raised:
        run("backup_restore", "--from", backup_path, "--mode", "replace")
    assert raised.value.returncode == 2
    assert dump(account) == before


def test_replace_without_a_terminal_is_cancelled(account, backup_path, monkeypatch):
    def no_stdin(question):
        raise EOFError

    monkeypatch.setattr("builtins.input", no_stdin)
    with pytest.raises(CommandError, match="cancelled"):
        run("backup_restore", "--from", backup_path, "--mode", "replace")


def test_replace_with_no_input(account, backup_path, make_car, settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    make_car(account, name="Later")
    output = run("backup_restore", "--from", backup_path, "--mode", "replace", "--no-input")
    assert "Replace restore of alice.zip" in output
    assert "Your data before the restore was saved to" in output
    assert not Car.objects.filter(name="Later").exists()
    assert Backup.objects.filter(kind="automatic").count() == 1


def test_a_refused_backup_exits_2(account, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_text("nope")
    with pytest.raises(CommandError, match="is not a ZIP file") as raised:
        run("backup_restore", "--from", str(bad))
    assert raised.value.returncode == 2


def test_a_restore_with_invalid_rows_exits_1(account, backup_path, tmp_path):
    sessions = read_members(backup_path)["sessions.csv"].replace(b",AC,", b",XX,")
    bad = altered(backup_path, tmp_path / "bad.zip", {"sessions.csv": sessions})
    out = StringIO()
    with pytest.raises(CommandError, match="The restore was undone: nothing was changed.") as raised:
        call_command("backup_restore", "--from", str(bad), stdout=out)
    assert raised.value.returncode == 1
    assert '"XX" is not a charge type' in out.getvalue()
