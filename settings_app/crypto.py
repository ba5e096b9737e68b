"""Fernet encryption of secret settings, with keys from PLUGTRACK_ENCRYPTION_KEYS (newest first)."""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from plugtrack_site.errors import PlugTrackError


class EncryptionKeyError(PlugTrackError):
    """No usable key, or a ciphertext that none of the configured keys can decrypt."""


def _fernet() -> MultiFernet:
    keys = settings.PLUGTRACK_ENCRYPTION_KEYS
    if not keys:
        raise EncryptionKeyError(
            "PLUGTRACK_ENCRYPTION_KEYS is not set, so secret settings cannot be stored or read. "
            "Add a key to .env (see .env.example)."
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise EncryptionKeyError(
            "PLUGTRACK_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from None


def keys_check() -> None:
    """Raise EncryptionKeyError unless PLUGTRACK_ENCRYPTION_KEYS holds usable keys."""
    _fernet()


def readable(ciphertext: str) -> bool:
    """Whether one of the configured keys can decrypt `ciphertext`."""
    try:
        decrypt(ciphertext)
    except EncryptionKeyError:
        return False
    return True


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise EncryptionKeyError(
            "None of the keys in PLUGTRACK_ENCRYPTION_KEYS can decrypt this value: it was encrypted with "
            "a key that is no longer configured. Add that old key after the current one."
        ) from None


def reencrypt(ciphertext: str) -> str:
    """The same plaintext encrypted under the newest key."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise EncryptionKeyError(
            "None of the keys in PLUGTRACK_ENCRYPTION_KEYS can decrypt a stored secret, so it cannot be "
            "re-encrypted. Add the key it was encrypted with after the new one."
        ) from None
