"""Reading a backup ZIP as untrusted input.

`backup_open` checks everything that can be checked before a restore writes anything: that the
file is a whole ZIP with exactly the expected members, no paths or links, sizes and compression
ratios under the limits, checksums and counts as the manifest says (its count of sessions, at
most MAX_SESSIONS, bounds the reading of sessions.csv), a known schema version, and cars and
settings that are valid. Members are read straight from the archive, never extracted, so
no name in it can reach the file system.

A backup encrypted with a passphrase (WinZip AES-256, which 7-Zip opens) is read with pyzipper:
without the passphrase, or with a wrong one, it is refused (PassphraseRefused) before anything
else; with it, every check above applies to what it decrypts, and each member's own HMAC catches a
change to the encrypted bytes.
"""

import hashlib
import io
import json
import re
import stat
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

import pyzipper
from django.core.exceptions import ValidationError

from cars_app.models import Car
from plugtrack_site.errors import PlugTrackError, excerpt
from sessions_app.imports import CsvFileError, csv_records, width_problem
from settings_app.registry import SETTINGS

from . import schema


class BackupRefused(PlugTrackError):
    """The ZIP is not a PlugTrack backup this version can restore; nothing was written."""


class PassphraseRefused(BackupRefused):
    """The backup is encrypted, and its passphrase was not given, or not this one."""


_ZIP_ERRORS = (zipfile.BadZipFile, pyzipper.BadZipFile)


def zip_open(path: Path | str, passphrase: str | None = None) -> pyzipper.AESZipFile:
    """A backup ZIP for reading, plain or encrypted (then read with `passphrase`)."""
    archive = pyzipper.AESZipFile(path)
    if passphrase:
        archive.setpassword(passphrase.encode("utf-8"))
    return archive


def backup_encrypted(path: Path | str) -> bool:
    """Whether the ZIP's members are encrypted (False for a file that is not a readable ZIP, or
    not a backup: opening it refuses it)."""
    try:
        _check_entry_count(Path(path))
        with zip_open(path) as archive:
            return any(info.flag_bits & 0x1 for info in archive.infolist())
    except (BackupRefused, *_ZIP_ERRORS, OSError, EOFError):
        return False


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
    passphrase: str | None = field(default=None, repr=False)  # kept in memory only, to read the sessions again

    @contextmanager
    def session_records(self) -> Iterator[tuple[list[str], Iterator[tuple[int, list[str]]]]]:
        """The sessions.csv header and its records (line, cells), streamed from the archive."""
        with zip_open(self.path, self.passphrase) as archive, archive.open(schema.SESSIONS) as member:
            records = csv_records(io.TextIOWrapper(member, encoding="utf-8", newline=""), schema.SESSIONS)
            _, header = next(records)
            yield header, records


def backup_session_count(path: Path | str, passphrase: str | None = None) -> int:
    """The session count a backup's manifest claims (0 if unreadable), to size a progress bar."""
    try:
        _check_entry_count(Path(path))
        with zip_open(path, passphrase) as archive:
            manifest = json.loads(_read_member(archive, schema.MANIFEST))
        return int(manifest["counts"]["sessions"])
    except Exception:  # noqa: BLE001 - only a hint; backup_open reports what is wrong
        return 0


def backup_open(path: Path | str, name: str | None = None, passphrase: str | None = None) -> BackupContents:
    """Validate the backup at `path` and return what a restore needs, or raise BackupRefused.
    `name` is the file's name in messages (default: its own); `passphrase` reads an encrypted one."""
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise BackupRefused(f"No backup file at {path}.")
    try:
        _check_entry_count(path)
        with zip_open(path, passphrase) as archive:
            contents = _read(path, archive, name, passphrase)
            contents.passphrase = passphrase
            return contents
    except _ZIP_ERRORS as error:
        if "HMAC" in str(error):  # an encrypted member's own check: its bytes were changed
            raise BackupRefused(f"{name} was altered or damaged: an encrypted member fails its check.") from None
        raise BackupRefused(f"{name} is not a ZIP file, or it is truncated or corrupt ({error}).") from None
    except RuntimeError as error:  # pyzipper: "Bad password for file ..."
        if "password" not in str(error).lower():
            raise
        raise PassphraseRefused(
            f"The passphrase is not the one {name} was encrypted with: nothing was restored. Check it and try again."
        ) from None
    except (EOFError, zlib.error, zipfile.LargeZipFile, pyzipper.LargeZipFile, NotImplementedError, OSError,
            KeyError, ValueError) as error:  # fmt: skip  # (pyzipper: KeyError for an unknown AES strength)
        if passphrase and isinstance(error, zlib.error):  # decrypted garbage: the encrypted bytes were changed
            raise BackupRefused(f"{name} was altered or damaged: an encrypted member does not decrypt.") from None
        raise BackupRefused(f"{name} cannot be read as a ZIP file ({error}).") from None


def _read(path: Path, archive: pyzipper.AESZipFile, source_name: str, passphrase: str | None) -> BackupContents:
    infos = archive.infolist()
    _check_members(infos)
    _check_encryption(infos, source_name, passphrase)
    data = {info.filename: None for info in infos}
    for member in (schema.MANIFEST, schema.SCHEMA_VERSION_FILE, schema.CARS, schema.SETTINGS):
        data[member] = _read_member(archive, member)

    manifest = _json(data[schema.MANIFEST], schema.MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("app") != schema.APP_NAME:
        raise BackupRefused(f"{schema.MANIFEST} is not a {schema.APP_NAME} manifest: this is not a PlugTrack backup.")
    version = _schema_version(manifest, data[schema.SCHEMA_VERSION_FILE])

    claimed = _claimed_sessions(manifest)
    session_digest, session_count, car_ids_used = _scan_sessions(archive, version, claimed)
    digests = {
        name: hashlib.sha256(data[name]).hexdigest()
        for name in (schema.SCHEMA_VERSION_FILE, schema.CARS, schema.SETTINGS)
    }
    digests[schema.SESSIONS] = session_digest
    members = manifest.get("members")
    for name, digest in digests.items():
        entry = members.get(name) if isinstance(members, dict) else None
        if not isinstance(entry, dict) or entry.get("sha256") != digest:
            raise BackupRefused(
                f"{name} does not match the checksum in {schema.MANIFEST}: the backup was altered or damaged."
            )

    cars = _parse_cars(data[schema.CARS], version)
    settings, unknown_settings = _parse_settings(data[schema.SETTINGS])
    unknown_cars = car_ids_used - {car["id"] for car in cars}
    if unknown_cars:
        shown = ", ".join(excerpt(car_id) for car_id in sorted(unknown_cars)[:5])
        raise BackupRefused(f"{schema.SESSIONS} refers to car id(s) {shown} that {schema.CARS} does not have.")
    counts = {"cars": len(cars), "sessions": session_count, "settings": len(settings) + len(unknown_settings)}
    if manifest.get("counts") != counts:
        raise BackupRefused(
            f"The counts in {schema.MANIFEST} ({excerpt(str(manifest.get('counts')), 200)}) do not match the "
            f"contents ({counts})."
        )
    warnings = [_unknown_settings_warning(unknown_settings)] if unknown_settings else []
    return BackupContents(path, manifest, version, cars, settings, session_count, warnings)


def _check_entry_count(path: Path) -> None:
    """Refuse a ZIP with more entries than a backup has before its directory is read: reading the
    directory of a small ZIP with millions of entries would take seconds and gigabytes. The end
    record's count comes first; as that count may lie (the readers walk the directory by its size),
    the directory's headers are then counted as the readers walk them, stopping past the limit."""
    with path.open("rb") as handle:
        end = zipfile._EndRecData(handle)  # the standard library's reader of that record (pyzipper's is the same)
        if end is None:
            return  # not a ZIP: the reader says so
        claimed = end[zipfile._ECD_ENTRIES_TOTAL]
        # Up to a few more than a backup has, the checks of each member say better what is wrong.
        if claimed > schema.MAX_ZIP_ENTRIES:
            raise BackupRefused(
                f"The ZIP holds {claimed:,} entries; a PlugTrack backup holds exactly "
                f"{len(schema.MEMBERS)}: {', '.join(schema.MEMBERS)}."
            )
        if _directory_entries(handle, end, stop_after=schema.MAX_ZIP_ENTRIES) > schema.MAX_ZIP_ENTRIES:
            raise BackupRefused(
                f"The ZIP holds more than {schema.MAX_ZIP_ENTRIES:,} entries, though its end record says "
                f"{claimed:,}: the file was altered or damaged. A PlugTrack backup holds exactly "
                f"{len(schema.MEMBERS)}: {', '.join(schema.MEMBERS)}."
            )


def _directory_entries(handle: BinaryIO, end: list, stop_after: int) -> int:
    """How many entries the ZIP's central directory holds, walked header by header as pyzipper's
    (and zipfile's) reader walks it, through the size the end record gives, from where that size
    puts its start: at most `stop_after` + 1. A header that is not one ends the count (the reader
    then refuses the file), and only the headers are read, never the names after them."""
    size = end[zipfile._ECD_SIZE]
    start = end[zipfile._ECD_LOCATION] - size  # where the reader looks, whatever the record's offset says
    if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:
        start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
    if start < 0:
        return 0
    handle.seek(start)
    count = walked = 0
    while walked < size and count <= stop_after:
        header = handle.read(zipfile.sizeCentralDir)
        if len(header) != zipfile.sizeCentralDir or header[:4] != zipfile.stringCentralDir:
            break
        name, extra, comment = struct.unpack_from("<3H", header, 28)  # the lengths of what follows it
        handle.seek(name + extra + comment, io.SEEK_CUR)
        walked += zipfile.sizeCentralDir + name + extra + comment
        count += 1
    return count


def _check_members(infos: list[zipfile.ZipInfo]) -> None:
    for info in infos:
        name = excerpt(info.filename)
        if info.filename.startswith(("/", "\\")) or info.filename[1:2] == ":" or "\\" in info.filename:
            raise BackupRefused(f'The ZIP holds a member with an absolute path ("{name}"); refused.')
        if ".." in info.filename.split("/"):
            raise BackupRefused(f'The ZIP holds a member whose path leaves its folder ("{name}"); refused.')
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BackupRefused(f'The ZIP holds a symbolic link ("{name}"); refused.')
    counts = Counter(info.filename for info in infos)
    missing = [name for name in schema.MEMBERS if name not in counts]
    extra = [excerpt(name) for name in counts if name not in schema.MEMBERS]
    repeated = [name for name, count in counts.items() if count > 1 and name in schema.MEMBERS]
    if missing or extra or repeated:
        problems = [
            f"{label}: {_some(sorted(items))}"
            for label, items in (("missing", missing), ("unexpected", extra), ("repeated", repeated))
            if items
        ]
        raise BackupRefused(
            f"The ZIP does not hold exactly the members of a backup ({'; '.join(problems)}). "
            f"Expected: {', '.join(schema.MEMBERS)}."
        )
    for info in infos:
        limit = schema.MEMBER_MAX_BYTES[info.filename]
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


def _some(names: list[str], shown: int = 3) -> str:
    """The first `shown` of `names` for a message, and how many more there are."""
    listed = ", ".join(names[:shown])
    return f"{listed} and {len(names) - shown:,} more" if len(names) > shown else listed


def _check_encryption(infos: list, name: str, passphrase: str | None) -> None:
    """All members encrypted, or none (PlugTrack writes one or the other); encrypted, it needs the passphrase."""
    encrypted = [info.flag_bits & 0x1 for info in infos]
    if any(encrypted) and not all(encrypted):
        raise BackupRefused(f"{name} has some members encrypted and others not: PlugTrack never writes that.")
    if all(encrypted) and not passphrase:
        raise PassphraseRefused(
            f"{name} is encrypted: give its passphrase (PLUGTRACK_BACKUP_PASSPHRASE, or typed when asked; in the "
            "admin, the Passphrase box)."
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


def _read_member(archive: pyzipper.AESZipFile, name: str) -> bytes:
    with archive.open(name) as member:
        reader = _LimitedReader(member, name, schema.MEMBER_MAX_BYTES[name])
        return reader.read()


def _claimed_sessions(manifest: dict) -> int:
    """The number of sessions the manifest counts, which bounds the work of reading the backup: over
    MAX_SESSIONS it is refused before sessions.csv is read."""
    counts = manifest.get("counts")
    claimed = counts.get("sessions") if isinstance(counts, dict) else None
    if not isinstance(claimed, int) or isinstance(claimed, bool) or claimed < 0:
        raise BackupRefused(f"{schema.MANIFEST} has no valid count of sessions: the backup was altered or damaged.")
    if claimed > schema.MAX_SESSIONS:
        raise BackupRefused(
            f"{schema.MANIFEST} counts {claimed:,} sessions; one restore reads at most {schema.MAX_SESSIONS:,}, so "
            "nothing was restored. (Whoever runs this PlugTrack can raise that limit, MAX_ROWS in "
            "sessions_app/imports/importer.py, to restore this backup.)"
        )
    return claimed


def _scan_sessions(archive: pyzipper.AESZipFile, version: int, claimed: int) -> tuple[str, int, set[str]]:
    """Hash and count sessions.csv in one streamed pass, and collect the car ids it uses.

    PlugTrack writes each car's sessions together; a file that does not (it was not written by
    PlugTrack) is refused, so that a restore holds one car's rows at a time, however many cars.
    One row more than the manifest's count (`claimed`) is refused there, not after the rest.
    """
    with archive.open(schema.SESSIONS) as member:
        reader = _LimitedReader(member, schema.SESSIONS, schema.MEMBER_MAX_BYTES[schema.SESSIONS])
        text = io.TextIOWrapper(io.BufferedReader(reader), encoding="utf-8", newline="")
        try:
            records = csv_records(text, schema.SESSIONS)
            header = [column.strip() for column in next(records, (0, []))[1]]
            expected = schema.SESSIONS_COLUMNS_BY_VERSION[version]
            if Counter(header) != Counter(expected):
                raise BackupRefused(
                    f"{schema.SESSIONS} has the columns {excerpt(','.join(header), 300) or '(none)'}; "
                    f"expected {','.join(expected)}."
                )
            car_column = header.index("car_id")
            count, car_ids, current = 0, set(), None
            for line, record in records:
                count += 1
                if count > claimed:
                    raise BackupRefused(
                        f"{schema.SESSIONS} line {line}: there are more sessions than the {claimed:,} "
                        f"{schema.MANIFEST} counts: the backup was altered or damaged."
                    )
                if width_problem(record, header):
                    continue  # reported as an invalid row by the restore
                car_id = record[car_column].strip()
                if car_id != current:
                    if car_id in car_ids:
                        raise BackupRefused(
                            f"{schema.SESSIONS} line {line}: the sessions of car {excerpt(car_id)} are not "
                            "together, as PlugTrack writes them; this file was not written by PlugTrack."
                        )
                    if len(car_ids) == schema.MAX_CARS:  # the ids are kept: as many as cars may be
                        raise BackupRefused(
                            f"{schema.SESSIONS} line {line}: the sessions belong to more than "
                            f"{schema.MAX_CARS:,} cars, the most a backup holds."
                        )
                    car_ids.add(car_id)
                    current = car_id
        except UnicodeDecodeError:
            raise BackupRefused(f"{schema.SESSIONS} is not UTF-8 text.") from None
        except CsvFileError as error:
            raise BackupRefused(str(error)) from None
    return reader.digest.hexdigest(), count, car_ids


def _json(content: bytes, name: str):
    try:
        value = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupRefused(f"{name} is not valid JSON ({error}).") from None
    except RecursionError:
        value = None  # nested deeper than Python's parser goes: far too deep
    if value is None or _depth(value) > schema.MAX_JSON_DEPTH:
        raise BackupRefused(f"{name} is nested more than {schema.MAX_JSON_DEPTH} levels deep; a backup's is not.")
    return value


def _depth(value) -> int:
    """How deeply lists and objects nest in a parsed JSON value (walked without recursion)."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            pending.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _schema_version(manifest: dict, version_file: bytes) -> int:
    version = manifest.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BackupRefused(f"{schema.MANIFEST} has no valid schema_version.")
    if version_file.decode("utf-8", "replace").strip() != str(version):
        raise BackupRefused(f"{schema.SCHEMA_VERSION_FILE} and {schema.MANIFEST} disagree on the schema version.")
    if version > schema.SCHEMA_VERSION:
        raise BackupRefused(  # (what an owner may well meet: said without the format's number first)
            "This backup was made by a newer PlugTrack than this one, which cannot read it: upgrade PlugTrack, "
            f"then restore it (the backup's format is {version}; this PlugTrack reads up to {schema.SCHEMA_VERSION})."
        )
    if version < min(schema.UPGRADES, default=schema.SCHEMA_VERSION):
        raise BackupRefused(f"Schema version {version} is not one PlugTrack ever wrote.")
    return version


def _parse_cars(content: bytes, version: int) -> list[dict]:
    expected = list(schema.CARS_COLUMNS_BY_VERSION[version])
    rows = []
    try:
        records = csv_records(io.StringIO(content.decode("utf-8"), newline=""), schema.CARS)
        header = [name.strip() for name in next(records, (0, []))[1]]
        if header != expected:
            raise BackupRefused(
                f"{schema.CARS} has the columns {excerpt(','.join(header), 300) or '(none)'}; "
                f"expected {','.join(expected)}."
            )
        for line, record in records:
            if len(rows) == schema.MAX_CARS:
                raise BackupRefused(f"{schema.CARS} has more than {schema.MAX_CARS:,} cars, the most a backup holds.")
            if len(record) != len(header):
                raise BackupRefused(f"{schema.CARS} line {line}: {width_problem(record, header)}")
            rows.append((line, {name: value.strip() for name, value in zip(header, record, strict=True)}))
    except UnicodeDecodeError:
        raise BackupRefused(f"{schema.CARS} is not UTF-8 text.") from None
    except CsvFileError as error:
        raise BackupRefused(str(error)) from None
    for step_from in range(version, schema.SCHEMA_VERSION):
        schema.UPGRADES[step_from]([row for _, row in rows])
    cars, seen_ids, seen_keys = [], set(), set()
    for line, row in rows:
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
            refuse(f'{column} "{excerpt(row[column])}" is not a number.')

    def boolean(column: str) -> bool:
        if row[column] not in ("0", "1"):
            refuse(f'{column} must be 1 or 0, not "{excerpt(row[column])}".')
        return row[column] == "1"

    if not row["id"]:
        refuse("id is missing.")
    frequency = row["recommended_full_charge_frequency_value"]
    if not re.fullmatch(r"[0-9]{1,9}", frequency):  # isdigit() also takes "²", which int() refuses
        refuse(f'recommended_full_charge_frequency_value "{excerpt(frequency)}" is not a whole number.')
    car = {
        "id": row["id"],
        "name": row["name"] or Car.default_name(row["make"], row["model"]),
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
        # Django's messages may quote the value (a choice, say): cut, as the value may be huge.
        refuse(excerpt("; ".join(f"{key}: {' '.join(texts)}" for key, texts in error.message_dict.items()), 300))
    return car


def _parse_settings(content: bytes) -> tuple[dict[str, SettingValue], list[str]]:
    """The backup's settings, and the keys this version does not know (left out)."""
    data = _json(content, schema.SETTINGS)
    if not isinstance(data, dict):
        raise BackupRefused(f"{schema.SETTINGS} must map each setting key to its value.")
    settings, unknown = {}, []
    for key, raw in data.items():
        if isinstance(raw, dict) and raw.get("encrypted") is True and isinstance(raw.get("ciphertext"), str):
            value = SettingValue(raw["ciphertext"], encrypted=True)
        elif isinstance(raw, str):
            value = SettingValue(raw, encrypted=False)
        else:
            raise BackupRefused(
                f'{schema.SETTINGS}: the value of "{excerpt(key)}" is neither text nor an encrypted value.'
            )
        definition = SETTINGS.get(key)
        if definition is None:
            unknown.append(key)
            continue
        if not value.encrypted:
            try:
                definition.parse(value.value)
            except ValidationError as error:
                raise BackupRefused(f"{schema.SETTINGS}: {' '.join(error.messages)}") from None
        settings[key] = value
    return settings, unknown


def _unknown_settings_warning(keys: list[str], shown: int = 5) -> str:
    names = ", ".join(f'"{excerpt(key)}"' for key in keys[:shown])
    more = f" and {len(keys) - shown:,} more" if len(keys) > shown else ""
    return f"{len(keys):,} setting(s) unknown to this version of PlugTrack were left out: {names}{more}."
