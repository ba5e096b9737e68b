"""How far a running job is, kept in a small file (data/jobs/<token>.json) that the worker rewrites
every second while the job runs. The job page reads it; a file that stops changing means the
worker died (its transaction never committed, so nothing was changed)."""

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .models import Job

HEARTBEAT_SECONDS = 1.0


def progress_path(job: Job) -> Path:
    return Path(settings.PLUGTRACK_DATA_DIR) / "jobs" / f"{job.token.hex}.json"


class ProgressWriter:
    """A progress callback (rows done) whose latest value a thread writes out every second."""

    def __init__(self, job: Job, total: int):
        self.path, self.total, self.done = progress_path(job), total, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-progress-{job.pk}", daemon=True)

    def __call__(self, done: int) -> None:
        self.done = done

    def __enter__(self) -> "ProgressWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.path.unlink(missing_ok=True)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self._write()

    def _write(self) -> None:
        _temporary(self.path).write_text(json.dumps({"done": self.done, "total": self.total}))
        os.replace(_temporary(self.path), self.path)


def _temporary(path: Path) -> Path:
    return path.with_suffix(".tmp")


def progress_remove(job: Job) -> None:
    """Remove what a worker that died left of the job's progress."""
    path = progress_path(job)
    for leftover in (path, _temporary(path)):
        leftover.unlink(missing_ok=True)


@dataclass
class Progress:
    done: int
    total: int
    age_seconds: float  # since the worker last wrote it


def progress_read(job: Job) -> Progress | None:
    try:
        path = progress_path(job)
        values = json.loads(path.read_text())
        return Progress(values["done"], values["total"], time.time() - path.stat().st_mtime)
    except (OSError, ValueError, KeyError):
        return None
