"""Settings for the test suite: fixed throwaway secrets, everything else as in production."""

import os
import tempfile
from pathlib import Path

# Throwaway values, valid only for tests; set before the real settings read the environment.
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("PLUGTRACK_ENCRYPTION_KEYS", "9qn4U-HwRM-M28xFa4T8ZmYx2Ou7aHh17qV_hq-hxW8=")
# Jobs run at once, inside the request that starts them (tests of the real worker switch back).
os.environ.setdefault("PLUGTRACK_TASK_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the concurrency tests run commands in other processes against it.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"plugtrack-test-{os.getpid()}.sqlite3")
    }

# No collectstatic before the tests: static files are found where they are (the serving tests run
# collectstatic themselves, into their own folder).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
STATIC_ROOT = Path(tempfile.gettempdir()) / "plugtrack-test-static"  # (WhiteNoise warns when there is none)
STATIC_ROOT.mkdir(exist_ok=True)
