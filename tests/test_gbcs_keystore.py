"""The RTDS key-store layout: loading, lookups, roles, generating and saving keys."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives import serialization

from protocols.gbcs.keystore import KeyStore, format_eui, parse_eui

from tests.conftest import KEYSTORE as KEYS, needs_keys


def _spki(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@needs_keys
def test_index_matches_directory():
    store = KeyStore(KEYS)
    names = {p.name for p in KEYS.iterdir()}
    entries = store.entries()
    assert len(entries) == len({n.rsplit(".", 1)[0] for n in names})
    assert (0x00DB1234567890A0, "ka") in entries and (0x90B3D51F30010000, "pp-ka") in entries


@needs_keys
def test_lookups():
    store = KeyStore(KEYS)
    assert store.private_key(0x00DB1234567890A0) is None          # no device private keys
    assert store.public_key(0x00DB1234567890A0, "ds") is not None
    assert store.certificate(0x00DB1234567890A0, "ka") is not None
    acb = store.private_key(0x90B3D51F30000002, "ka")
    assert _spki(acb.public_key()) == _spki(store.public_key(0x90B3D51F30000002, "ka"))
    # synthetic bare public key, and a private key without a certificate
    assert store.certificate(0xFFFFFFFFFFFFFFFE) is None and store.public_key(0xFFFFFFFFFFFFFFFE) is not None
    assert store.public_key(0xABABABABABABABAB) is not None
    assert store.has_private_key(0x90B3D51F30010000, "pp-ka") and not store.has_private_key(0x90B3D51F30020000, "pp-ka")
    assert store.role(0x90B3D51F30000002) == 4 and store.role(0x90B3D51F30010000, "ds") == 2
    assert store.euis_with_role(4, "ka") == [0x90B3D51F30000002]        # the ACB (subject OU=04)
    assert store.role(0x00DB1234567890A0) is None                        # device certs: no OU
    assert store.private_key(0x0123456789ABCDEF) is None and store.public_key(0x0123456789ABCDEF) is None


@needs_keys
def test_files_are_taken_as_named():
    """90b3d51f30000007-ka.* holds supplier 2's key (spec section 7): no remapping."""
    store = KeyStore(KEYS)
    assert _spki(store.public_key(0x90B3D51F30000007)) == _spki(store.public_key(0x90B3D51F30030000))


def test_generate_is_seeded_and_saves_in_rtds_layout(tmp_path):
    a, b = KeyStore(), KeyStore()
    ka = a.generate(0x00DB1234567890A0, "ka", random.Random("home-1/esme"))
    kb = b.generate(0x00DB1234567890A0, "ka", random.Random("home-1/esme"))
    assert ka.private_numbers().private_value == kb.private_numbers().private_value
    a.generate(0x90B3D51F30010000, "pp-ka", random.Random(7))
    written = sorted(p.name for p in a.save(tmp_path))
    assert written == ["00db1234567890a0-ka.key", "00db1234567890a0-ka.pem",
                       "90b3d51f30010000-pp-ka.key", "90b3d51f30010000-pp-ka.pem"]
    again = KeyStore(tmp_path)
    assert again.private_key(0x00DB1234567890A0).private_numbers().private_value == \
        ka.private_numbers().private_value
    assert again.public_key(0x90B3D51F30010000, "pp-ka") is not None


def test_eui_helpers():
    assert format_eui(0x00DB1234567890A0) == "00DB1234567890A0"
    assert parse_eui("00:db:12:34:56:78:90:a0") == 0x00DB1234567890A0
    with pytest.raises(ValueError):
        parse_eui("00DB")
