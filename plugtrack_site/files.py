"""Writing a file whole or not at all, for exports and backups."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import PlugTrackError


@contextmanager
def file_written_whole(path: Path, *, binary: bool = False) -> Iterator[IO]:
    """Yield a handle on a temporary file beside `path`; on success it becomes `path` in one
    rename, on failure it is removed: a reader never sees half a file, and an older file at
    `path` survives a failed write."""
    if not path.parent.is_dir():
        raise PlugTrackError(f"The folder {path.parent} does not exist.")
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except PermissionError:
        raise PlugTrackError(f"Cannot write in {path.parent}: permission denied.") from None
    try:
        options = {"mode": "wb"} if binary else {"mode": "w", "encoding": "utf-8", "newline": ""}
        with open(descriptor, **options) as handle:
            yield handle
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
