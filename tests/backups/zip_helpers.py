"""Build backup ZIPs for tests, including damaged and hostile ones."""

import contextlib
import csv
import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

from backups import schema


def read_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path: Path, members: dict[str, bytes], *, reseal: bool = True) -> Path:
    """Write `members` as a ZIP. With `reseal`, the manifest's checksums and counts are made to
    match the other members, so a test can change content without tripping those checks."""
    members = dict(members)
    if reseal and schema.MANIFEST in members:
        manifest = json.loads(members[schema.MANIFEST])
        manifest["members"] = {
            name: {"sha256": hashlib.sha256(data).hexdigest()}
            for name, data in members.items()
            if name != schema.MANIFEST
        }
        # A member a test broke on purpose leaves the counts as they were.
        with contextlib.suppress(KeyError, ValueError, csv.Error, RecursionError):
            manifest["counts"] = {
                "cars": _csv_rows(members[schema.CARS]),
                "sessions": _csv_rows(members[schema.SESSIONS]),
                "settings": len(json.loads(members[schema.SETTINGS])),
            }
        members[schema.MANIFEST] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def altered(source: Path, target: Path, replacements: dict[str, bytes], *, reseal: bool = True) -> Path:
    """A copy of the backup at `source` with some members replaced."""
    return write_zip(target, read_members(source) | replacements, reseal=reseal)


def _csv_rows(data: bytes) -> int:
    return sum(1 for row in list(csv.reader(io.StringIO(data.decode(), newline="")))[1:] if any(row))


def with_hidden_entries(source: Path, target: Path, count: int) -> Path:
    """A copy of the ZIP at `source` whose central directory holds `count` more entries (empty files
    named x0000000, x0000001, …) while its end record still gives the original number of entries:
    a reader that trusts the end record's count but walks the directory reads every one of them."""
    data = source.read_bytes()
    end = data.rindex(b"PK\x05\x06")
    record = list(struct.unpack(zipfile.structEndArchive, data[end : end + zipfile.sizeEndCentDir]))
    size, offset = record[zipfile._ECD_SIZE], record[zipfile._ECD_OFFSET]
    assert offset + size == end, "a ZIP with a ZIP64 end record or a prefix is not handled here"
    name_length = 8
    header = struct.pack(
        zipfile.structCentralDir, zipfile.stringCentralDir, 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, name_length,
        0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    hidden = b"".join(header + b"x%07d" % i for i in range(count))
    record[zipfile._ECD_SIZE] = size + len(hidden)
    comment = data[end + zipfile.sizeEndCentDir :]
    target.write_bytes(data[:end] + hidden + struct.pack(zipfile.structEndArchive, *record) + comment)
    return target
