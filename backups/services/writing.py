"""Writing a backup ZIP of an owner's whole account, plain or encrypted (format: `backups.schema`)."""

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import zipfile
from pathlib import Path

import pyzipper
from django.contrib.auth.models import User
from django.db import DatabaseError
from django.utils import timezone

from cars_app.models import Car
from plugtrack_site.account_lock import account_write_lock
from plugtrack_site.errors import PlugTrackError
from plugtrack_site.files import file_written_whole
from plugtrack_site.numbers import decimal_text
from sessions_app.imports import (
    ChargingSessionResource,
)
from sessions_app.models import CHRONOLOGICAL, ChargingSession
from settings_app.models import Setting

from .. import schema
from ..models import Backup
from .paths import backup_path, backups_folder_sweep

logger = logging.getLogger("plugtrack.backups")


APP_VERSION = "0.1.0"


def backup_create(
    *, user: User, target: Path | str | None = None, kind: str = Backup.Kind.MANUAL, passphrase: str | None = None
) -> Backup:
    """Write a backup ZIP of everything `user` has and record it.

    `target` may be a file path, a folder (the default name is used) or None (the user's
    backups folder). With `passphrase` the same members are encrypted (WinZip AES-256, which
    7-Zip and pyzipper open with it, and nothing opens without); it is never stored. Runs under
    the account's write lock, so it reads the account at one moment, after every operation that
    committed before it. The file is written whole or not at all, and
    a Backup record exists exactly when its file does.
    """
    if passphrase is not None:
        passphrase_check(passphrase)
    backups_folder_sweep(user)  # what a backup killed mid-write left (the target's folder too, below)
    path, renamed, committed = None, False, False
    try:
        with account_write_lock(user.pk):
            created_at = timezone.now().astimezone(dt.UTC)  # when it reads, after any wait for the lock
            path = backup_path(user, target, created_at)
            with file_written_whole(path, binary=True) as handle:
                counts = _archive_write(handle, user, created_at, passphrase)
                # Recorded before the file takes its name: should this fail, an older file at `path` stays.
                backup = Backup.objects.create(
                    user=user,
                    created_at=created_at,
                    kind=kind,
                    path=str(path.resolve()),  # absolute: the web server may run in another folder than the CLI
                    size_bytes=handle.tell(),
                    cars=counts["cars"],
                    sessions=counts["sessions"],
                    settings=counts["settings"],
                    encrypted=passphrase is not None,
                )
            renamed = True
        committed = True
    except (DatabaseError, OSError) as error:
        raise PlugTrackError(f"The backup could not be written, so none was kept ({error}).") from None
    finally:
        if renamed and not committed:  # the record was rolled back: its file must not stay without it
            path.unlink(missing_ok=True)
    logger.info(
        "backup_created user=%s kind=%s path=%s cars=%d sessions=%d settings=%d bytes=%d",
        user.username, kind, path, counts["cars"], counts["sessions"], counts["settings"], backup.size_bytes,
    )  # fmt: skip
    return backup


PASSPHRASE_MIN_CHARS = 8


def passphrase_check(passphrase: str) -> None:
    """A passphrase a backup may be encrypted with: long enough to be worth it."""
    if len(passphrase) < PASSPHRASE_MIN_CHARS:
        raise PlugTrackError(
            f"The passphrase must have at least {PASSPHRASE_MIN_CHARS} characters. Keep it somewhere other than this "
            "machine: without it the backup cannot be read."
        )


def _archive_write(handle, user: User, created_at: dt.datetime, passphrase: str | None) -> dict[str, int]:
    """Write the backup's members into `handle` (encrypted with `passphrase`, if any); returns the counts."""
    if passphrase is None:
        archive = zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED)
    else:
        # pyzipper (a maintained fork of the standard library's zipfile) writes WinZip AES, as 7-Zip reads it.
        archive = pyzipper.AESZipFile(handle, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES)
        archive.setpassword(passphrase.encode("utf-8"))
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
    with archive:
        counts, digests = members_write(archive, user)
        manifest = {
            "app": schema.APP_NAME,
            "version": APP_VERSION,
            "schema_version": schema.SCHEMA_VERSION,
            "created_at": created_at.isoformat().replace("+00:00", "Z"),
            "user_id": user.pk,
            "username": user.username,
            "counts": counts,
            "members": {name: {"sha256": digest} for name, digest in digests.items()},
        }
        archive.writestr(schema.MANIFEST, json.dumps(manifest, indent=2))
    return counts


class _HashingWriter(io.RawIOBase):
    def __init__(self, member):
        self.member, self.digest = member, hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.digest.update(data)
        return self.member.write(data)


def members_write(archive: zipfile.ZipFile, user: User) -> tuple[dict, dict]:
    digests = {}

    def write_text(name: str, text: str) -> None:
        data = text.encode("utf-8")
        digests[name] = hashlib.sha256(data).hexdigest()
        archive.writestr(name, data)

    write_text(schema.SCHEMA_VERSION_FILE, f"{schema.SCHEMA_VERSION}\n")

    cars = list(Car.objects.filter(user=user).order_by("pk"))
    cars_csv = io.StringIO()
    writer = csv.writer(cars_csv)
    writer.writerow(schema.CARS_COLUMNS)
    for car in cars:
        writer.writerow(
            [
                car.pk, car.name, car.make, car.model, decimal_text(car.battery_kwh),
                decimal_text(car.efficiency_mpkwh), int(car.recommended_full_charge_enabled),
                car.recommended_full_charge_frequency_value, car.recommended_full_charge_frequency_unit,
                car.notes, int(car.active),
            ]
        )  # fmt: skip
    write_text(schema.CARS, cars_csv.getvalue())

    stored_settings = Setting.objects.filter(user=user).order_by("key")
    settings_json = {
        s.key: {"encrypted": True, "ciphertext": s.value} if s.encrypted else s.value for s in stored_settings
    }
    write_text(schema.SETTINGS, json.dumps(settings_json, indent=2, ensure_ascii=False))

    # Streamed row by row: memory does not grow with the number of sessions.
    resource = ChargingSessionResource()
    session_count = 0
    with archive.open(schema.SESSIONS, "w", force_zip64=True) as member:
        hashing = _HashingWriter(member)
        text = io.TextIOWrapper(hashing, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text)
        writer.writerow(schema.SESSIONS_COLUMNS)
        sessions = ChargingSession.objects.filter(user=user).order_by("car_id", *CHRONOLOGICAL)
        for session in sessions.iterator(chunk_size=2000):
            writer.writerow([session.car_id, *resource.export_resource(session)])
            session_count += 1
        text.flush()
        text.detach()
    digests[schema.SESSIONS] = hashing.digest.hexdigest()
    counts = {"cars": len(cars), "sessions": session_count, "settings": len(settings_json)}
    return counts, digests
