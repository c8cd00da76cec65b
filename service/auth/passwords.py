"""Password storage.

PasswordText needs only a slow salted hash: ``hash_password`` / ``verify_password`` (scrypt
from hashlib, stored as ``scrypt$n$r$p$salt_b64$hash_b64``).

PasswordDigest (WS-Security UsernameToken) is ``Base64(SHA-1(nonce + created + password))``:
the server must recompute it, so by design it needs the cleartext password. It is kept sealed
with AES-256-GCM under a server key held in a file outside the database
(``load_or_create_key``): a copy of the database alone does not reveal it. A sealed secret
names the key that sealed it (``key_id``), so secrets sealed under the previous key still
open while ``temix secret rotate`` re-seals them (``service.auth.keyring``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# Bounds accepted when reading a stored hash, so a corrupt row cannot ask for gigabytes.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16

KEY_BYTES = 32
KEY_ID_BYTES = 8
_NONCE_BYTES = 12
_TAG_BYTES = 16
_SEAL_V1 = b"\x01"  # version, nonce, ciphertext: written before key ids
_SEAL_VERSION = b"\x02"  # version, key id, nonce, ciphertext


def hash_password(password: str) -> str:
    """A fresh salted scrypt hash of ``password``, ready to store."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (from ``hash_password``), compared in constant time.

    Raises ``ValueError`` if ``stored`` is not a hash this module wrote: a corrupt stored
    hash is a fault of the server, not a wrong password.
    """
    n, r, p, salt, expected = _parse(stored)
    actual = _scrypt(password, salt, n, r, p, len(expected))
    return hmac.compare_digest(actual, expected)


def key_id(key: bytes) -> bytes:
    """The name a sealed secret gives its key: the first bytes of the key's SHA-256 (says
    nothing of a 256-bit random key)."""
    return hashlib.sha256(_check_key(key)).digest()[:KEY_ID_BYTES]


def seal_secret(key: bytes, password: str) -> bytes:
    """``password`` encrypted and authenticated with AES-256-GCM under ``key``.

    Layout: one version byte, the key's id, a 12-byte random nonce, then ciphertext and tag
    (the version and key id are authenticated too).
    """
    header = _SEAL_VERSION + key_id(key)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, password.encode("utf-8"), header)


def sealed_key_id(sealed: bytes) -> bytes | None:
    """The id of the key that sealed ``sealed``; None for a secret sealed before key ids
    (it opens with whichever key sealed it)."""
    sealed = bytes(sealed)
    if sealed[:1] == _SEAL_VERSION and len(sealed) >= 1 + KEY_ID_BYTES + _NONCE_BYTES + _TAG_BYTES:
        return sealed[1 : 1 + KEY_ID_BYTES]
    if sealed[:1] == _SEAL_V1 and len(sealed) >= 1 + _NONCE_BYTES + _TAG_BYTES:
        return None
    raise ValueError("not a sealed secret of this service")


def open_secret(key: bytes, sealed: bytes) -> str:
    """The password that ``seal_secret(key, ...)`` sealed; ``ValueError`` if it was altered
    or sealed under another key."""
    sealed = bytes(sealed)
    named = sealed_key_id(sealed)
    header = sealed[: 1 + KEY_ID_BYTES] if named is not None else _SEAL_V1
    if named is not None and named != key_id(key):
        raise ValueError("sealed secret does not open with this key (sealed under another key)")
    nonce, body = sealed[len(header) : len(header) + _NONCE_BYTES], sealed[len(header) + _NONCE_BYTES :]
    try:
        plain = AESGCM(_check_key(key)).decrypt(nonce, body, header)
    except InvalidTag as error:
        raise ValueError("sealed secret does not open with this key (altered or other key)") from error
    return plain.decode("utf-8")


def load_or_create_key(path: Path) -> bytes:
    """The server key in ``path``; 32 random bytes written there (mode 0600) if it is absent.

    Refuses a key file of the wrong length or one that others than its owner may read.
    """
    path = Path(path)
    if path.exists():
        return read_key(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Write the whole key to a private temporary file, then link it into place: processes
    # starting together (gunicorn workers) never see a half-written key, and one key wins.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return read_key(path)


def read_key(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(
            f"server key file {path} is accessible to others (mode {stat.S_IMODE(mode):04o});"
            f" run: chmod 600 {path}"
        )
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"server key file {path} holds {len(key)} bytes, expected {KEY_BYTES}")
    return key


def _check_key(key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise ValueError(f"AES-256 key must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + (1 << 20),
        dklen=length,
    )


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("stored password hash is not in the form scrypt$n$r$p$salt$hash")
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error) as error:
        raise ValueError("stored password hash is malformed") from error
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= _MAX_R and 0 < p <= _MAX_P):
        raise ValueError("stored password hash has out-of-range scrypt parameters")
    if len(salt) < 8 or len(expected) < 16:
        raise ValueError("stored password hash has a too-short salt or hash")
    return n, r, p, salt, expected


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class SealedCredentials:
    """Stores a new party's password as ``temix party add`` does: the scrypt hash, and (unless
    PasswordText only) the password sealed under the server key for PasswordDigest. Given
    to the request path only when registrars may set passwords (TEMIX_ALLOW_REGISTRAR_PASSWORDS)."""

    def __init__(self, keys):
        self._keys = keys  # a Keyring (service.auth.keyring): seals under its current key

    def stored(self, password: str, text_only: bool) -> tuple[str, bytes | None]:
        return hash_password(password), None if text_only else self._keys.seal(password)
