"""GBCS crypto (KDF, GMAC, GCM, ECDSA, key selection) against the spec's vectors and RTDS."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols.errors import CodecError
from protocols.gbcs.crypto import (GbcsCrypto, MessagePayloadCrypto, ecdh, ecdsa_sign, ecdsa_verify,
                                   gcm_decrypt, gcm_encrypt, gcm_iv, gmac_tag, kdf, kdf_other_info)
from protocols.gbcs.framing import decode_frame
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import FAILED, NO_KEY, VERIFIED, sign_precommand, verify_frame

from tests.conftest import KEYSTORE as KEYS, RTDS, needs_keys, needs_rtds

pytestmark = needs_keys

ACB, SUPPLIER, ESME = 0x90B3D51F30000002, 0x90B3D51F30010000, 0x00DB1234567890A0

ECS12_CMD = bytes.fromhex(
    "DD000000000000541100000000DF0901000000000000000208123456789ABCDEF008FFFFFFFFFFFFFFFE"
    "0002002220D920000002000102000100005E2C03020201090C07DF0105FF000000008000FF00"
    "0F1DD00D6745EBD8E0A663A4")
ECS12_RSP = bytes.fromhex(
    "DD000000000000401100000000DF0902000000000000000208FFFFFFFFFFFFFFFE08123456789ABCDEF0"
    "000200220CDA200000020000010001020000"
    "0B3C1B312CEAE9C130060E29")


@pytest.fixture(scope="module")
def store() -> KeyStore:
    return KeyStore(KEYS)


@pytest.fixture(scope="module")
def crypto(store) -> GbcsCrypto:
    return GbcsCrypto(store)


def test_other_info_layout():
    oi = kdf_other_info(SUPPLIER, 1, 0x100000000, ESME)
    assert oi.hex().upper() == "60857406080300" "90B3D51F30010000" "0901" "0000000100000000" "00DB1234567890A0"


@pytest.mark.parametrize("priv, pub, orig, recip, counter, x, expected", [
    (ACB, ESME, SUPPLIER, ESME, 0x100000000, 1, "6A93E360717394015DF93E031218C9A6"),
    (SUPPLIER, ESME, ESME, SUPPLIER, 0x100000000, 2, "03FD30815577C49EB7E3834B63EF8302"),
    (SUPPLIER, ESME, ESME, SUPPLIER, 0x7D1, 3, "558FB1FA6660AF0D9E8365C47804B8FA"),
])
def test_kdf_vectors(store, crypto, priv, pub, orig, recip, counter, x, expected):
    z = ecdh(store.private_key(priv), store.public_key(pub))
    assert kdf(z, orig, x, counter, recip).hex().upper() == expected
    # the cached path computes the same key, whichever side's private key it finds
    assert crypto.derived_key(pub, priv, orig, x, counter, recip).key.key.hex().upper() == expected


def test_gcm_sanity_vectors():
    key = bytes(range(16))
    iv = gcm_iv(0x90B3D51F30030000)
    assert iv.hex().upper() == "90B3D51F3003000000000000"
    tag = gmac_tag(key, iv, b"helloworld")
    assert tag[:12].hex().upper() == "FB3AFED43B78508864F00DA3" and tag.hex().upper().endswith("D46A3D46")
    blob = gcm_encrypt(key, iv, b"one two three", b"helloworld")
    assert blob.hex().upper() == "584FA806B24491178829D46C38" "6B33BDCB1E223242EC20B957"
    assert gcm_decrypt(key, iv, blob, b"helloworld") == b"one two three"
    with pytest.raises(CodecError):
        gcm_decrypt(key, iv, blob[:-1] + bytes([blob[-1] ^ 1]), b"helloworld")
    with pytest.raises(CodecError):
        gcm_decrypt(key, iv, blob[:5], b"helloworld")


def test_synthetic_ecs12_mac_keys(store):
    crypto = GbcsCrypto(store, acb_eui=0xABABABABABABABAB)
    for data, key_hex in ((ECS12_CMD, "F3332152AB0EF4CC34E08323B5689C41"),
                          (ECS12_RSP, "4D32AC55F1BB5B7BBD813B111871B078")):
        f = decode_frame(data)
        lookup = crypto.mac_key(f.signing)
        assert lookup.key.key.hex().upper() == key_hex
        assert crypto.compute_mac(lookup.key, f.signing, f.apdu) == data[-12:]
        assert verify_frame(f, crypto).mac == VERIFIED
    # with the wrong ACB the command MAC fails (keys exist, MAC does not verify)
    assert verify_frame(decode_frame(ECS12_CMD), GbcsCrypto(store, acb_eui=ACB)).mac in (FAILED, NO_KEY)
    tampered = bytearray(ECS12_CMD)
    tampered[-20] ^= 1
    assert verify_frame(decode_frame(bytes(tampered)), crypto).mac == FAILED


def rtds() -> list[Path]:
    return sorted(RTDS.rglob("*.HEX")) if RTDS.is_dir() else []


@needs_rtds
def test_rtds_macs_and_signatures(crypto):
    counts = {"mac": 0, "sig": 0}
    for path in rtds():
        f = decode_frame(bytes.fromhex(path.read_text().strip()))
        v = verify_frame(f, crypto)
        assert FAILED not in (v.mac, v.signature), (path.name, v)
        if v.mac == NO_KEY:
            # only genuinely absent keys: neither party's private KA key is in the store
            a, b = crypto.mac_parties(f.signing, True)
            assert not crypto.keystore.has_private_key(a) and not crypto.keystore.has_private_key(b)
        counts["mac"] += v.mac == VERIFIED
        counts["sig"] += v.signature == VERIFIED
    assert counts["mac"] > 500 and counts["sig"] > 300


@needs_rtds
def test_rtds_encrypted_parts_decrypt_and_reencrypt(crypto):
    """Locate '31 00000000' encrypted containers (section 2.3) and decrypt them with our keys."""
    found = 0
    for path in rtds():
        gs = decode_frame(bytes.fromhex(path.read_text().strip())).signing
        content = gs.content
        i = content.find(b"\x31\x00\x00\x00\x00")
        if gs.cra_flag == 1 or i < 2:
            continue
        pc = crypto.payload_crypto(gs)
        if content[:2] == b"\x01\x09":                     # GBZ: 2-byte ciphered information length
            n = int.from_bytes(content[i - 2:i], "big")
        elif content[i - 2] == 0x09:                          # DLMS octet-string, short length
            n = content[i - 1]
        elif content[i - 3:i - 1] == b"\x09\x81":           # DLMS octet-string, 81 nn length
            n = content[i - 1]
        else:
            continue
        blob = content[i + 5:i + n]
        plain = pc.decrypt(blob)
        assert plain is not None and pc.encrypt(plain) == blob, path.name
        found += 1
    assert found >= 10


def test_payload_crypto_without_key():
    pc = MessagePayloadCrypto(None, bytes(12), "no key")
    assert pc.decrypt(b"x" * 20) is None and pc.encrypt(b"x") is None and not pc.has_key and pc.used


def test_ecdsa_raw_signature(store):
    key = store.private_key(SUPPLIER, "ds")
    sig = ecdsa_sign(key, b"grouping header and payload")
    assert len(sig) == 64 and sig == ecdsa_sign(key, b"grouping header and payload")  # deterministic
    pub = store.public_key(SUPPLIER, "ds")
    assert ecdsa_verify(pub, b"grouping header and payload", sig)
    assert not ecdsa_verify(pub, b"grouping header and payloaD", sig)
    assert not ecdsa_verify(pub, b"x", sig[:63])


@needs_rtds
def test_sign_precommand_matches_rtds_command_apart_from_signature(crypto):
    done = 0
    for pre in rtds():
        if "_PRECOMMAND_" not in pre.name:
            continue
        cmd = pre.with_name(pre.name.replace("_PRECOMMAND_", "_COMMAND_"))
        pdata = bytes.fromhex(pre.read_text().strip())
        f = decode_frame(pdata)
        if not crypto.keystore.has_private_key(f.signing.originator, "ds") or not cmd.exists():
            continue
        signed = sign_precommand(pdata, crypto)
        assert signed[:-65] == pdata and signed[-65] == 0x40
        assert verify_frame(decode_frame(signed), crypto).signature == VERIFIED
        assert decode_frame(bytes.fromhex(cmd.read_text().strip())).apdu[:-64] == signed[:-64]
        done += 1
        if done == 5:
            break
    assert done


def test_caches_reuse_objects(crypto):
    a = crypto.derived_key(ACB, ESME, SUPPLIER, 1, 42, ESME)
    b = crypto.derived_key(ESME, ACB, SUPPLIER, 1, 42, ESME)
    assert crypto.shared_secret(ACB, ESME) is crypto.shared_secret(ESME, ACB)
    assert a.key is crypto.derived_key(ACB, ESME, SUPPLIER, 1, 42, ESME).key
    assert a.key.key == b.key.key
    missing = crypto.derived_key(0x00DB1234567890A4, 0x00DB1234567890A1, 0x00DB1234567890A4, 1, 1, 0x00DB1234567890A1)
    assert missing.key is None and "no KA private key for 00DB1234567890A4" in missing.reason
