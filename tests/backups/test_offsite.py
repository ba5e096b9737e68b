"""Off-site copies (issue 14, point 5) against a real S3 API server: moto's server mode, started by the
test suite on 127.0.0.1 (not a mock of boto3). A scheduled backup is copied, retention deletes old
copies there too, and a failed upload is recorded, keeps the local copy and is tried again."""

import socket
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from django.utils import timezone

from backups.models import Backup, BackupSchedule
from backups.offsite import offsite_failure
from backups.schedules import SchedulePlan, backups_run_due, schedule_save

from .test_schedules import at


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def offsite_storage_settings(endpoint: str, bucket: str) -> dict:
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket, "endpoint_url": endpoint, "region_name": "us-east-1", "access_key": "test",
            "secret_key": "test", "location": "plugtrack", "addressing_style": "path", "default_acl": None,
            # One quick attempt: the failure test's endpoint refuses at once, and is tried again next run anyway.
            "client_config": Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
        },
    }  # fmt: skip


@pytest.fixture
def bucket(settings, s3_endpoint, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    name = f"plugtrack-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")  # fmt: skip
    client.create_bucket(Bucket=name)
    settings.STORAGES = {**settings.STORAGES, "offsite": offsite_storage_settings(s3_endpoint, name)}
    return client, name


def keys(client, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))


@pytest.fixture
def clock(monkeypatch):
    state = {"now": at("2026-11-30 10:00")}
    monkeypatch.setattr(timezone, "now", lambda: state["now"])
    return state


def test_each_scheduled_backup_is_copied_and_retention_applies_there_too(
    account, bucket, clock, django_capture_on_commit_callbacks
):
    client, name = bucket
    schedule_save(
        user=account, passphrase="correct horse battery",
        plan=SchedulePlan(
            frequency="daily",
            hour=3,
            weekday=0,
            encrypt=True,
            keep_daily=2,
            keep_weekly=0,
            keep_monthly=0,
        ),
    )  # fmt: skip
    for day in (1, 2, 3):
        clock["now"] = at(f"2026-12-0{day} 03:00")
        with django_capture_on_commit_callbacks(execute=True):
            [run] = backups_run_due()
        assert not run.error and run.offsite_copied == 1
    kept = list(Backup.objects.order_by("created_at"))
    assert len(kept) == 2  # the first one pruned, here and there
    assert keys(client, name) == sorted(f"plugtrack/{account.pk}/{backup.path.rsplit('/', 1)[1]}" for backup in kept)
    copy = client.get_object(Bucket=name, Key=f"plugtrack/{kept[-1].offsite_name}")["Body"].read()
    assert copy == Path(kept[-1].path).read_bytes()  # byte for byte: still encrypted there
    assert all(backup.offsite_at and backup.offsite_error == "" for backup in kept)


def test_a_failed_upload_is_recorded_keeps_the_local_copy_and_is_tried_again(account, bucket, clock, settings,
                                                                             s3_endpoint):  # fmt: skip
    client, name = bucket
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    working = settings.STORAGES["offsite"]
    settings.STORAGES = {**settings.STORAGES, "offsite": offsite_storage_settings(f"http://127.0.0.1:{_closed_port()}",
                                                                                  name)}  # fmt: skip
    clock["now"] = at("2026-12-01 03:00")
    [run] = backups_run_due()
    first = Backup.objects.get()
    assert run.verified and "was not copied off-site" in run.error and "tried again next run" in run.error
    assert Path(first.path).read_bytes()[:2] == b"PK" and first.offsite_at is None
    assert "not copied off-site" in first.offsite_error
    assert "not copied off-site" in offsite_failure(account) and keys(client, name) == []  # shown in the admin
    settings.STORAGES = {**settings.STORAGES, "offsite": working}  # the service is back
    clock["now"] = at("2026-12-02 03:00")
    [run] = backups_run_due()
    assert not run.error and run.offsite_copied == 2  # today's, and yesterday's that failed
    assert (
        len(keys(client, name)) == 2 and BackupSchedule.objects.get().failure == "" and offsite_failure(account) == ""
    )
    assert Backup.objects.filter(offsite_at__isnull=True).count() == 0


def _closed_port() -> int:
    return free_port()  # bound a moment ago and released: nothing listens there


def test_backups_made_by_hand_are_copied_at_the_next_run_even_with_nothing_due(account, bucket, capsys):
    import json

    from django.core.management import call_command

    from backups.services import backup_create

    client, name = bucket
    manual = backup_create(user=account)
    backup_create(user=account, kind=Backup.Kind.AUTOMATIC)  # (before a replace: stays in PlugTrack's folder)
    gone = backup_create(user=account, target=Path(manual.path).parent / "elsewhere.zip")
    Path(gone.path).unlink()  # written with --to somewhere, deleted since
    call_command("backups_run_due", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["runs"] == [] and report["offsite"] == {"alice": {"copied": 1, "errors": []}}
    assert keys(client, name) == [f"plugtrack/{account.pk}/{Path(manual.path).name}"]
    call_command("backups_run_due", "--json")
    assert json.loads(capsys.readouterr().out)["offsite"] == {}  # nothing left to copy, and the gone file not retried
    assert Backup.objects.get(pk=gone.pk).offsite_error.startswith("Its file is no longer on disk")
