"""Reading a backup ZIP as untrusted input.

`backup_open` checks everything that can be checked before a restore writes anything: that the
file is a whole ZIP with exactly the expected members, no paths, links or encryption, sizes and
compression ratios under the limits, checksums and counts as the manifest says, a known schema
version, and cars and settings that are valid. Members are read straight from the archive,
never extracted, so no name in it can reach the file system.
"""

import csv
import hashlib
import io
import json
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError

from cars_app.models import Car
from plugtrack_site.errors import PlugTrackError
from sessions_app.resources import CsvFileError, csv_records, width_problem
from settings_app.registry import SETTINGS

from . import schema


class BackupRefused(PlugTrackError):
    """The ZIP is not a PlugTrack backup this version can restore; nothing was written."""


@dataclass(frozen=True)
class SettingValue:
    value: str
    encrypted: bool


@dataclass
class BackupContents:
    path: Path
    manifest: dict
    schema_version: int
    cars: list[dict]  # cars.csv rows (upgraded to the current schema), with typed values
    settings: dict[str, SettingValue]
    session_count: int
    warnings: list[str] = field(default_factory=list)

    @contextmanager
    def session_records(self) -> Iterator[tuple[list[str], Iterator[tuple[int, list[str]]]]]:
        """The sessions.csv header and its records (line, cells), streamed from the archive."""
        with zipfile.ZipFile(self.path) as archive, archive.open(schema.SESSIONS) as member:
            reader = csv.reader(io.TextIOWrapper(member, encoding="utf-8", newline=""))
            header = next(reader)
            yield header, csv_records(reader, schema.SESSIONS)


def backup_session_count(path: Path | str) -> int:
    """The session count a backup's manifest claims (0 if unreadable), to size a progress bar."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(_read_member(archive, schema.MANIFEST, schema.MAX_SMALL_MEMBER_BYTES))
        return int(manifest["counts"]["sessions"])
    except Exception:  # noqa: BLE001 - only a hint; backup_open reports what is wrong
        return 0


def backup_open(path: Path | str) -> BackupContents:
    """Validate the backup at `path` and return what a restore needs, or raise BackupRefused."""
    path = Path(path)
    if not path.is_file():
        raise BackupRefused(f"No backup file at {path}.")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read(path, archive)
    except zipfile.BadZipFile as error:
        raise BackupRefused(f"{path.name} is not a ZIP file, or it is truncated or corrupt ({error}).") from None
    except (EOFError, zlib.error, zipfile.LargeZipFile, NotImplementedError, OSError) as error:
        raise BackupRefused(f"{path.name} cannot be read as a ZIP file ({error}).") from None


def _read(path: Path, archive: zipfile.ZipFile) -> BackupContents:
    infos = archive.infolist()
    _check_members(infos)
    data = {info.filename: None for info in infos}
    for name in (schema.MANIFEST, schema.SCHEMA_VERSION_FILE, schema.CARS, schema.SETTINGS):
        data[name] = _read_member(archive, name, schema.MAX_SMALL_MEMBER_BYTES)

    manifest = _json(data[schema.MANIFEST], schema.MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("app") != schema.APP_NAME:
        raise BackupRefused(f"{schema.MANIFEST} is not a {schema.APP_NAME} manifest: this is not a PlugTrack backup.")
    version = _schema_version(manifest, data[schema.SCHEMA_VERSION_FILE])

    session_digest, session_count, car_ids_used = _scan_sessions(archive, version)
    digests = {
        name: hashlib.sha256(data[name]).hexdigest()
        for name in (schema.SCHEMA_VERSION_FILE, schema.CARS, schema.SETTINGS)
    }
    digests[schema.SESSIONS] = session_digest
    members = manifest.get("members")
    for name, digest in digests.items():
        expected = (members or {}).get(name, {}).get("sha256") if isinstance(members, dict) else None
        if expected != digest:
            raise BackupRefused(
                f"{name} does not match the checksum in {schema.MANIFEST}: the backup was altered or damaged."
            )

    cars = _parse_cars(data[schema.CARS], version)
    settings, warnings = _parse_settings(data[schema.SETTINGS])
    unknown_cars = car_ids_used - {car["id"] for car in cars}
    if unknown_cars:
        raise BackupRefused(
            f"{schema.SESSIONS} refers to car id(s) {', '.join(sorted(unknown_cars))} that {schema.CARS} does not have."
        )
    counts = {"cars": len(cars), "sessions": session_count, "settings": len(settings) + len(warnings)}
    if manifest.get("counts") != counts:
        raise BackupRefused(
            f"The counts in {schema.MANIFEST} ({manifest.get('counts')}) do not match the contents ({counts})."
        )
    return BackupContents(path, manifest, version, cars, settings, session_count, warnings)


def _check_members(infos: list[zipfile.ZipInfo]) -> None:
    names = [info.filename for info in infos]
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or "\\" in name:
            raise BackupRefused(f'The ZIP holds a member with an absolute path ("{name}"); refused.')
        if ".." in name.split("/"):
            raise BackupRefused(f'The ZIP holds a member whose path leaves its folder ("{name}"); refused.')
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BackupRefused(f'The ZIP holds a symbolic link ("{name}"); refused.')
        if info.flag_bits & 0x1:
            raise BackupRefused(f'"{name}" is encrypted in the ZIP; PlugTrack backups are not.')
    duplicated = sorted({name for name in names if names.count(name) > 1})
    missing = [name for name in schema.MEMBERS if name not in names]
    extra = sorted(set(names) - set(schema.MEMBERS))
    if duplicated or missing or extra:
        problems = [
            f"{label}: {', '.join(items)}"
            for label, items in (("missing", missing), ("unexpected", extra), ("repeated", duplicated))
            if items
        ]
        raise BackupRefused(
            f"The ZIP does not hold exactly the members of a backup ({'; '.join(problems)}). "
            f"Expected: {', '.join(schema.MEMBERS)}."
        )
    total = 0
    for info in infos:
        limit = schema.MAX_MEMBER_BYTES if info.filename == schema.SESSIONS else schema.MAX_SMALL_MEMBER_BYTES
        if info.file_size > limit:
            raise BackupRefused(
                f"{info.filename} would unpack to {info.file_size:,} bytes, over the limit of {limit:,}."
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > schema.RATIO_CHECK_FROM_BYTES and ratio > schema.MAX_COMPRESSION_RATIO:
            raise BackupRefused(
                f"{info.filename} is compressed {ratio:,.0f} to 1, more than {schema.MAX_COMPRESSION_RATIO} to 1: "
                "refused as a possible ZIP bomb."
            )
        total += info.file_size
    if total > schema.MAX_TOTAL_BYTES:
        raise BackupRefused(
            f"The backup would unpack to {total:,} bytes, over the limit of {schema.MAX_TOTAL_BYTES:,}."
        )


class _LimitedReader(io.RawIOBase):
    """Reads a member, hashing it and refusing more bytes than allowed (sizes in a ZIP can lie)."""

    def __init__(self, member, name: str, limit: int):
        self.member, self.name, self.limit = member, name, limit
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.member.read(len(buffer))
        self.size += len(chunk)
        if self.size > self.limit:
            raise BackupRefused(f"{self.name} unpacks to more than {self.limit:,} bytes; refused.")
        self.digest.update(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    with archive.open(name) as member:
        reader = _LimitedReader(member, name, limit)
        return reader.read()


def _scan_sessions(archive: zipfile.ZipFile, version: int) -> tuple[str, int, set[str]]:
    """Hash and count sessions.csv in one streamed pass, and collect the car ids it uses."""
    with archive.open(schema.SESSIONS) as member:
        reader = _LimitedReader(member, schema.SESSIONS, schema.MAX_MEMBER_BYTES)
        text = io.TextIOWrapper(io.BufferedReader(reader), encoding="utf-8", newline="")
        rows = csv.reader(text)
        try:
            header = [column.strip() for column in next(rows, [])]
            if sorted(header) != sorted(schema.SESSIONS_COLUMNS):
                raise BackupRefused(
                    f"{schema.SESSIONS} has the columns {','.join(header) or '(none)'}; "
                    f"expected {','.join(schema.SESSIONS_COLUMNS)}."
                )
            car_column = header.index("car_id")
            count, car_ids = 0, set()
            for _line, record in csv_records(rows, schema.SESSIONS):
                count += 1
                if not width_problem(record, header):
                    car_ids.add(record[car_column].strip())
        except UnicodeDecodeError:
            raise BackupRefused(f"{schema.SESSIONS} is not UTF-8 text.") from None
        except CsvFileError as error:
            raise BackupRefused(str(error)) from None
    return reader.digest.hexdigest(), count, car_ids


def _json(content: bytes, name: str):
    try:
        return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupRefused(f"{name} is not valid JSON ({error}).") from None


def _schema_version(manifest: dict, version_file: bytes) -> int:
    version = manifest.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BackupRefused(f"{schema.MANIFEST} has no valid schema_version.")
    if version_file.decode("utf-8", "replace").strip() != str(version):
        raise BackupRefused(f"{schema.SCHEMA_VERSION_FILE} and {schema.MANIFEST} disagree on the schema version.")
    if version > schema.SCHEMA_VERSION:
        raise BackupRefused(
            f"This backup has schema version {version}, newer than this PlugTrack understands "
            f"({schema.SCHEMA_VERSION}). Upgrade PlugTrack, then restore it."
        )
    if version < min(schema.UPGRADES, default=schema.SCHEMA_VERSION):
        raise BackupRefused(f"Schema version {version} is not one PlugTrack ever wrote.")
    return version


def _parse_cars(content: bytes, version: int) -> list[dict]:
    try:
        reader = csv.DictReader(io.StringIO(content.decode("utf-8"), newline=""))
        expected = schema.CARS_COLUMNS_BY_VERSION[version]
        if reader.fieldnames is None or [name.strip() for name in reader.fieldnames] != list(expected):
            raise BackupRefused(f"{schema.CARS} has the columns {reader.fieldnames}; expected {','.join(expected)}.")
        rows = list(reader)
    except UnicodeDecodeError:
        raise BackupRefused(f"{schema.CARS} is not UTF-8 text.") from None
    except csv.Error as error:
        raise BackupRefused(f"{schema.CARS} is not a valid CSV ({error}).") from None
    for line, row in enumerate(rows, start=2):
        if None in row:  # DictReader files cells beyond the header under None
            raise BackupRefused(f"{schema.CARS} line {line} has more cells than its header.")
    rows = [{key.strip(): (value or "").strip() for key, value in row.items()} for row in rows]
    for step_from in range(version, schema.SCHEMA_VERSION):
        schema.UPGRADES[step_from](rows)
    cars, seen_ids, seen_keys = [], set(), set()
    for line, row in enumerate(rows, start=2):
        car = _parse_car(row, line)
        if car["id"] in seen_ids or (car["name"], car["make"], car["model"]) in seen_keys:
            raise BackupRefused(f"{schema.CARS} line {line}: the same car appears twice.")
        seen_ids.add(car["id"])
        seen_keys.add((car["name"], car["make"], car["model"]))
        cars.append(car)
    return cars


def _parse_car(row: dict, line: int) -> dict:
    def refuse(message: str):
        raise BackupRefused(f"{schema.CARS} line {line}: {message}")

    def decimal(column: str) -> Decimal | None:
        try:
            return Decimal(row[column]) if row[column] else None
        except InvalidOperation:
            refuse(f'{column} "{row[column]}" is not a number.')

    def boolean(column: str) -> bool:
        if row[column] not in ("0", "1"):
            refuse(f'{column} must be 1 or 0, not "{row[column]}".')
        return row[column] == "1"

    if not row["id"]:
        refuse("id is missing.")
    frequency = row["recommended_full_charge_frequency_value"]
    if not re.fullmatch(r"[0-9]+", frequency):  # isdigit() also takes "²", which int() refuses
        refuse(f'recommended_full_charge_frequency_value "{frequency}" is not a whole number.')
    car = {
        "id": row["id"],
        "name": row["name"] or f"{row['make']} {row['model']}".strip(),
        "make": row["make"],
        "model": row["model"],
        "battery_kwh": decimal("battery_kwh"),
        "efficiency_mpkwh": decimal("efficiency_mpkwh"),
        "recommended_full_charge_enabled": boolean("recommended_full_charge_enabled"),
        "recommended_full_charge_frequency_value": int(frequency),
        "recommended_full_charge_frequency_unit": row["recommended_full_charge_frequency_unit"],
        "notes": row["notes"],
        "active": boolean("active"),
    }
    try:
        Car(**{key: value for key, value in car.items() if key != "id"}).full_clean(
            exclude=["user"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as error:
        refuse("; ".join(f"{key}: {' '.join(messages)}" for key, messages in error.message_dict.items()))
    return car


def _parse_settings(content: bytes) -> tuple[dict[str, SettingValue], list[str]]:
    data = _json(content, schema.SETTINGS)
    if not isinstance(data, dict):
        raise BackupRefused(f"{schema.SETTINGS} must map each setting key to its value.")
    settings, warnings = {}, []
    for key, raw in data.items():
        if isinstance(raw, dict) and raw.get("encrypted") is True and isinstance(raw.get("ciphertext"), str):
            value = SettingValue(raw["ciphertext"], encrypted=True)
        elif isinstance(raw, str):
            value = SettingValue(raw, encrypted=False)
        else:
            raise BackupRefused(f'{schema.SETTINGS}: the value of "{key}" is neither text nor an encrypted value.')
        definition = SETTINGS.get(key)
        if definition is None:
            warnings.append(f'Setting "{key}" is unknown to this version of PlugTrack and was left out.')
            continue
        if not value.encrypted:
            try:
                definition.parse(value.value)
            except ValidationError as error:
                raise BackupRefused(f"{schema.SETTINGS}: {' '.join(error.messages)}") from None
        settings[key] = value
    return settings, warnings
