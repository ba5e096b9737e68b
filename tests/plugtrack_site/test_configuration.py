import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from plugtrack_site.envfile import local_env_write

REPO = Path(__file__).resolve().parents[2]


def load_settings(**env) -> subprocess.CompletedProcess:
    """Import the production settings in a fresh interpreter with exactly these variables set."""
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PLUGTRACK_ENCRYPTION_KEYS")}
    # Explicit values win over a developer's local .env, which only fills in unset variables.
    environment |= {"DJANGO_SETTINGS_MODULE": "plugtrack_site.settings", "SECRET_KEY": "", "DEBUG": "False"} | env
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('loaded')"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_without_debug_a_missing_secret_key_stops_start_up_with_a_clear_message():
    result = load_settings(PLUGTRACK_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert result.returncode != 0
    assert "SECRET_KEY is not set and DEBUG is off" in result.stderr


def test_without_debug_missing_encryption_keys_stop_start_up():
    result = load_settings(SECRET_KEY="x" * 50, PLUGTRACK_ENCRYPTION_KEYS="")
    assert result.returncode != 0
    assert "PLUGTRACK_ENCRYPTION_KEYS is not set and DEBUG is off" in result.stderr


def test_with_secrets_set_the_settings_load():
    result = load_settings(SECRET_KEY="x" * 50, PLUGTRACK_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert result.returncode == 0, result.stderr
    assert "loaded" in result.stdout


def test_the_first_run_env_file_has_fresh_secrets_and_is_never_overwritten(tmp_path):
    path = tmp_path / ".env"
    assert local_env_write(path) is True
    text = path.read_text()
    key = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("PLUGTRACK_ENCRYPTION_KEYS="))
    Fernet(key.encode())  # a usable key
    assert "SECRET_KEY=" in text and oct(path.stat().st_mode)[-3:] == "600"

    assert local_env_write(path) is False
    assert path.read_text() == text


def test_a_decimal_for_a_person_has_thousands_separators_and_no_trailing_zeros():
    from decimal import Decimal

    from plugtrack_site.numbers import decimal_grouped

    assert [decimal_grouped(Decimal(text)) for text in ("2770200", "1234.5000", "0.075", "-12345.6", "0")] == [
        "2,770,200", "1,234.5", "0.075", "-12,345.6", "0",
    ]  # fmt: skip
