"""Password hashes and sealed secrets (service/auth/passwords.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.auth.passwords import (
    hash_password,
    load_or_create_key,
    open_secret,
    seal_secret,
    verify_password,
)
from service.config import REPO_ROOT


def test_a_hash_records_scrypt_and_its_parameters():
    scheme, n, r, p, salt, digest = hash_password("correct horse").split("$")

    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(salt) == 24 and len(digest) == 44  # base64 of 16 and 32 bytes


def test_the_right_password_verifies_and_a_wrong_one_does_not():
    stored = hash_password("correct horse")

    assert verify_password("correct horse", stored)
    assert not verify_password("correct horse ", stored)
    assert not verify_password("", stored)


def test_two_hashes_of_one_password_differ_by_their_salt():
    assert hash_password("same") != hash_password("same")


@settings(max_examples=10, deadline=None)
@given(st.text(min_size=1, max_size=64))
def test_any_unicode_password_round_trips_through_the_hash(password):
    assert verify_password(password, hash_password(password))


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain text",
        "bcrypt$12$x$y$z$w",
        "scrypt$16384$8$1$not base64!$AAAA",
        "scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16384$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ],
)
def test_a_stored_hash_this_module_did_not_write_is_an_error_not_a_mismatch(stored):
    with pytest.raises(ValueError):
        verify_password("anything", stored)


def test_a_sealed_secret_opens_with_its_key_to_the_password():
    key = os.urandom(32)

    sealed = seal_secret(key, "pässwörd")

    assert b"p\xc3\xa4ssw" not in sealed
    assert open_secret(key, sealed) == "pässwörd"


def test_sealing_twice_gives_different_bytes():
    key = os.urandom(32)

    assert seal_secret(key, "pw") != seal_secret(key, "pw")


def test_a_sealed_secret_does_not_open_with_another_key():
    sealed = seal_secret(os.urandom(32), "pw")

    with pytest.raises(ValueError, match="does not open"):
        open_secret(os.urandom(32), sealed)


def test_an_altered_sealed_secret_does_not_open():
    key = os.urandom(32)
    sealed = bytearray(seal_secret(key, "pw"))
    sealed[-1] ^= 1

    with pytest.raises(ValueError):
        open_secret(key, bytes(sealed))


@pytest.mark.parametrize("sealed", [b"", b"\x01short", b"\x02" + bytes(40)])
def test_bytes_that_are_not_a_sealed_secret_are_refused(sealed):
    with pytest.raises(ValueError):
        open_secret(os.urandom(32), sealed)


def test_a_key_must_be_32_bytes():
    with pytest.raises(ValueError, match="32 bytes"):
        seal_secret(b"short", "pw")


def test_the_key_file_is_created_once_with_mode_0600(tmp_path):
    path = tmp_path / "keys" / "secret.key"

    first = load_or_create_key(path)
    second = load_or_create_key(path)

    assert len(first) == 32
    assert first == second
    assert path.stat().st_mode & 0o777 == 0o600


def test_processes_creating_the_key_together_all_get_the_one_key(tmp_path):
    path = tmp_path / "secret.key"
    script = (
        "import sys; from pathlib import Path; from service.auth.passwords import load_or_create_key;"
        " sys.stdout.write(load_or_create_key(Path(sys.argv[1])).hex())"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        for _ in range(8)
    ]
    keys = {process.communicate(timeout=60)[0] for process in processes}

    assert keys == {path.read_bytes().hex()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]


def test_a_key_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "secret.key"
    load_or_create_key(path)
    path.chmod(0o644)

    with pytest.raises(PermissionError, match="chmod 600"):
        load_or_create_key(path)


def test_a_key_file_of_the_wrong_length_is_refused(tmp_path):
    path = tmp_path / "secret.key"
    path.write_bytes(b"too short")
    path.chmod(0o600)

    with pytest.raises(ValueError, match="expected 32"):
        load_or_create_key(path)
