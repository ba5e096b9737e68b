"""Create a local `.env` with freshly generated secrets, if there is none yet.

Run before Django starts (`python -m plugtrack_site.envfile`): settings refuse to load without
secrets when DEBUG is off, so this step cannot be a management command.
"""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ENV_PATH = Path(__file__).resolve().parent.parent / ".env"


def local_env_write(path: Path = ENV_PATH) -> bool:
    """Write a development `.env` at `path` unless one exists. Returns True if it wrote one."""
    if path.exists():
        return False
    path.write_text(
        "# Written by `python -m plugtrack_site.envfile` for local use. Never commit this file.\n"
        "DEBUG=True\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"PLUGTRACK_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return True


if __name__ == "__main__":
    if local_env_write():
        print(f"Wrote {ENV_PATH} with a new secret key and encryption key.")
    else:
        print(f"Kept the existing {ENV_PATH}.", file=sys.stdout)
