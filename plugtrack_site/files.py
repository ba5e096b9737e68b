"""Writing a file whole or not at all, for exports and backups."""

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import PlugTrackError

# A temporary file is named ".<target name>.<random>.plugtrack.tmp", so that one left behind by a
# crash (power cut, SIGKILL) can be recognised as PlugTrack's and swept away later.
TEMPORARY_SUFFIX = ".plugtrack.tmp"
# What earlier versions named a backup's temporary file (".plugtrack_backup_<user>_<time>.zip.<random>.tmp").
_EARLIER_TEMPORARIES = ".plugtrack_backup_*.zip.*.tmp"
STALE_AFTER_SECONDS = 3600  # no write takes this long; a younger file may belong to a running one


@contextmanager
def file_written_whole(path: Path, *, binary: bool = False) -> Iterator[IO]:
    """Yield a handle on a temporary file beside `path`; on success it is flushed to disk and
    becomes `path` in one rename, on failure it is removed: a reader never sees half a file, an
    older file at `path` survives a failed write, and a crash leaves at worst a temporary file
    that the next write in that folder sweeps away once it is an hour old."""
    folder = path.parent
    if not folder.is_dir():
        raise PlugTrackError(f"The folder {folder} does not exist.")
    stale_temporaries_sweep(folder)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
    except PermissionError:
        raise PlugTrackError(f"Cannot write in {folder}: permission denied.") from None
    try:
        options = {"mode": "wb"} if binary else {"mode": "w", "encoding": "utf-8", "newline": ""}
        with open(descriptor, **options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # the content is on disk before the name points at it
        os.replace(temporary, path)
        _fsync_folder(folder)  # and the rename itself survives a power cut
    finally:
        Path(temporary).unlink(missing_ok=True)


def stale_temporaries_sweep(folder: Path) -> None:
    """Remove PlugTrack temporary files in `folder` older than STALE_AFTER_SECONDS (none if there is no folder)."""
    cutoff = time.time() - STALE_AFTER_SECONDS
    leftovers = [*folder.glob(f".*{TEMPORARY_SUFFIX}"), *folder.glob(_EARLIER_TEMPORARIES)]
    for leftover in leftovers:
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: the write itself goes on


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
