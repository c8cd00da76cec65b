"""Server keys with ids: a secret names the key that sealed it; a rotation keeps every key a
running process needs readable."""

from __future__ import annotations

import os

import pytest

from service.auth.certificates import CertificateError, normalized_fingerprint
from service.auth.keyring import Keyring, begin_rotation, end_rotation, previous_key_path
from service.auth.passwords import _NONCE_BYTES, key_id, open_secret, seal_secret, sealed_key_id

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def test_a_sealed_secret_names_its_key():
    key = os.urandom(32)

    assert sealed_key_id(seal_secret(key, "pw")) == key_id(key)


def test_a_secret_sealed_before_key_ids_still_opens():
    key = os.urandom(32)
    nonce = os.urandom(_NONCE_BYTES)
    old = b"\x01" + nonce + AESGCM(key).encrypt(nonce, b"pw", b"\x01")

    assert open_secret(key, old) == "pw"
    assert Keyring(os.urandom(32), (key,)).open(old) == "pw"


def test_a_worker_opens_secrets_sealed_under_a_key_made_after_it_started(tmp_path):
    path = tmp_path / "secret.key"
    worker = Keyring.load(path)
    old_secret = worker.seal("before")

    assert begin_rotation(path)
    operator = Keyring.load(path)  # the rotating command: the new key and the previous one
    new_secret = operator.seal(operator.open(old_secret))
    end_rotation(path)

    assert not previous_key_path(path).exists()
    assert operator.is_current(new_secret) and not operator.is_current(old_secret)
    assert worker.open(new_secret) == "before"  # read from the key file when first met
    assert worker.open(old_secret) == "before"  # and the old key is not forgotten


def test_an_interrupted_rotation_is_finished_before_another_key_is_made(tmp_path):
    path = tmp_path / "secret.key"
    Keyring.load(path)
    assert begin_rotation(path)
    current = path.read_bytes()

    assert not begin_rotation(path)
    assert path.read_bytes() == current


def test_a_secret_under_a_key_nowhere_to_be_found_is_an_error(tmp_path):
    keyring = Keyring.load(tmp_path / "secret.key")

    with pytest.raises(ValueError, match="not in"):
        keyring.open(seal_secret(os.urandom(32), "pw"))


@pytest.mark.parametrize(
    "text", ["AB:" * 31 + "AB", "ab" * 32, " sha256=" + "Ab" * 32 + " "],
)
def test_a_fingerprint_is_read_as_tools_print_it(text):
    assert normalized_fingerprint(text) == "ab" * 32


@pytest.mark.parametrize("text", ["", "ab" * 31, "zz" * 32, "ab" * 33])
def test_what_is_not_a_sha256_fingerprint_is_refused(text):
    with pytest.raises(CertificateError):
        normalized_fingerprint(text)
