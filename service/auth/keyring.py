"""The server keys that seal PasswordDigest secrets, and their rotation without downtime.

``secret.key`` (TEMIX_SECRET_KEY_FILE) is the current key: new secrets are sealed under it.
While ``temix secret rotate`` runs, the key it replaces is kept beside it as
``secret.key.previous``; the rotation re-seals every party's secret under the new key in one
transaction, then deletes the previous key file.

A running worker loaded the keys at start. A sealed secret names its key (``key_id``): when a
worker meets a secret sealed under a key it does not hold (re-sealed by a rotation after the
worker started), it reads the key files again and keeps every key it has seen, so it goes on
authenticating during and after a rotation without a restart.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

from service.auth.passwords import (
    KEY_BYTES,
    read_key,
    key_id,
    load_or_create_key,
    open_secret,
    seal_secret,
    sealed_key_id,
)


def previous_key_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".previous")


class Keyring:
    """The keys a process can open sealed secrets with; seals under the current one."""

    def __init__(self, current: bytes, others: tuple[bytes, ...] = (), path: Path | None = None):
        self.current = current
        self.path = path  # None: no files to read again (tests, a key given in memory)
        self._keys = {key_id(key): key for key in (*others, current)}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """The current key of ``path`` (created if absent) and the previous one, if a rotation
        is under way."""
        path = Path(path)
        current = load_or_create_key(path)
        previous = previous_key_path(path)
        others = (read_key(previous),) if previous.exists() else ()
        return cls(current, others, path)

    def seal(self, password: str) -> bytes:
        return seal_secret(self.current, password)

    def open(self, sealed: bytes) -> str:
        """The password sealed in ``sealed``; ``ValueError`` if none of the keys opens it."""
        named = sealed_key_id(sealed)
        if named is None:  # sealed before key ids: try each key
            for key in list(self._keys.values()):
                try:
                    return open_secret(key, sealed)
                except ValueError:
                    continue
            raise ValueError("sealed secret does not open with any server key")
        key = self._keys.get(named)
        if key is None:
            key = self._reload().get(named)
        if key is None:
            raise ValueError(f"sealed secret names server key {named.hex()}, which is not in {self.path}")
        return open_secret(key, sealed)

    def is_current(self, sealed: bytes) -> bool:
        return sealed_key_id(sealed) == key_id(self.current)

    def _reload(self) -> dict[bytes, bytes]:
        """Every key seen so far and those in the key files now."""
        if self.path is None:
            return self._keys
        with self._lock:
            found = [self.path, previous_key_path(self.path)]
            keys = dict(self._keys)
            for path in found:
                if path.exists():
                    key = read_key(path)
                    keys[key_id(key)] = key
            self._keys = keys
            return keys


def begin_rotation(path: Path) -> bool:
    """Make a new current key, keeping the one it replaces as the previous key. Returns False,
    changing nothing, if a previous key is already there (a rotation that did not finish: its
    re-sealing must be finished under the current key before another key is made)."""
    path = Path(path)
    previous = previous_key_path(path)
    if previous.exists():
        return False
    old = load_or_create_key(path)
    _write_key(previous, old)  # first: a reader always finds every key in use
    _write_key(path, secrets.token_bytes(KEY_BYTES))
    return True


def end_rotation(path: Path) -> None:
    """Forget the previous key: every secret is sealed under the current one."""
    previous_key_path(path).unlink(missing_ok=True)


def _write_key(path: Path, key: bytes) -> None:
    """Write ``key`` to a private temporary file and rename it into place: a reader sees the
    old key or the new, never a part."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
