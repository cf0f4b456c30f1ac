"""Every RTDS 4.5.0 payload: decoded completely, re-encoded byte for byte (GBCS notes §3, §4).

Ground truth is the DCC reference test data in shared/rtds (bytes produced by DCC) and the
payload catalogue shared/spec/payload_catalogue.tsv (produced from RTDS by gbcs-parser
research, not by this code).  Framing and payload decryption are done here with small
private helpers (§1.2/§1.3 split, §2.1/§2.3 KDF + AES-GCM) so the payload codecs are tested
independently of the framing/crypto modules.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from protocols.errors import CodecError
from protocols.gbcs.payloads import decode_payload, encode_payload, payload_fully_decoded

from tests.conftest import KEYSTORE as KEYS, RTDS, SPEC, needs, needs_rtds

CATALOGUE = SPEC / "payload_catalogue.tsv"

pytestmark = needs_rtds


# ---------------------------------------------------------------------------------------
# private helpers: GBCS framing split (§1.2, §1.3) and payload crypto (§2.1, §2.3)

def _len(b: bytes, i: int) -> tuple[int, int]:
    x = b[i]
    if x < 0x80:
        return x, i + 1
    n = x & 0x7F
    return int.from_bytes(b[i + 1:i + 1 + n], "big"), i + 1 + n


def _split_rtds(hexstr: str) -> tuple[int, int, bytes, dict]:
    """Return (message_code, cra, payload_bytes, header_fields) of an RTDS message."""
    b = bytes.fromhex(hexstr.strip())
    i = 0
    if b[0] == 0xDD:                      # general ciphering: 7 header bytes, len, 5-byte sec hdr
        _, i = _len(b, 7)
        i += 5
    assert b[i] == 0xDF
    i += 1
    assert b[i] == 0x09
    cra, counter = b[i + 1], b[i + 2:i + 10]
    i += 10
    assert b[i] == 0x08
    originator = b[i + 1:i + 9]
    i += 9
    assert b[i] == 0x08
    recipient = b[i + 1:i + 9]
    i += 9
    i += 1 + b[i]                          # date-time
    n, i = _len(b, i)
    other_info = b[i:i + n]
    i += n
    n, i = _len(b, i)
    payload = b[i:i + n]
    return (int.from_bytes(other_info[:2], "big"), cra, payload,
            {"originator": originator, "recipient": recipient, "counter": counter,
             "other_information": other_info})


@functools.lru_cache(maxsize=None)
def _private_key(eui: bytes):
    from cryptography.hazmat.primitives import serialization
    path = KEYS / f"{eui.hex()}-ka.key"
    if not path.is_file():
        return None
    return serialization.load_pem_private_key(path.read_bytes(), None)


@functools.lru_cache(maxsize=None)
def _public_key(eui: bytes):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    path = KEYS / f"{eui.hex()}-ka.pem"
    if not path.is_file():
        return None
    data = path.read_bytes()
    try:
        return x509.load_pem_x509_certificate(data).public_key()
    except ValueError:
        return serialization.load_pem_public_key(data)


class _PayloadCrypto:
    """KDF (X = 04) + AES-128-GCM, AAD 0x31, IV = originator || 00000000 (§2.3)."""

    def __init__(self, hdr: dict) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        oi = hdr["other_information"]
        self.originator = hdr["originator"]
        recipient, counter = hdr["recipient"], hdr["counter"]
        if len(oi) >= 10:
            recipient = oi[2:10]          # supplementary remote party
        if len(oi) == 26:
            counter = oi[18:26]           # supplementary originator counter
        self.key = None
        self.decrypted = 0
        for priv_eui, pub_eui in ((recipient, self.originator), (self.originator, recipient)):
            priv, pub = _private_key(priv_eui), _public_key(pub_eui)
            if priv is not None and pub is not None:
                z = priv.exchange(ec.ECDH(), pub)
                other = bytes.fromhex("60857406080300") + self.originator + b"\x09\x04" + counter + recipient
                self.key = hashlib.sha256(b"\x00\x00\x00\x01" + z + other).digest()[:16]
                break

    def decrypt(self, blob: bytes) -> bytes | None:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        if self.key is None:
            return None
        d = Cipher(algorithms.AES(self.key),
                   modes.GCM(self.originator + bytes(4), blob[-12:], min_tag_length=12)).decryptor()
        d.authenticate_additional_data(b"\x31")
        try:
            plain = d.update(blob[:-12]) + d.finalize()
        except InvalidTag:
            raise CodecError("ciphertext", 0, "GCM tag does not verify") from None
        self.decrypted += 1
        return plain

    def encrypt(self, plaintext: bytes) -> bytes | None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        if self.key is None:
            return None
        e = Cipher(algorithms.AES(self.key), modes.GCM(self.originator + bytes(4))).encryptor()
        e.authenticate_additional_data(b"\x31")
        ct = e.update(plaintext) + e.finalize()
        return ct + e.tag[:12]


def _files() -> list[Path]:
    return sorted(RTDS.rglob("*.HEX")) if RTDS.is_dir() else []


# ---------------------------------------------------------------------------------------

def test_every_rtds_payload_decodes_completely_and_rebuilds_byte_for_byte():
    files = _files()
    assert len(files) > 500
    failures, encrypted, decrypted = [], 0, 0
    for path in files:
        code, cra, payload, hdr = _split_rtds(path.read_text())
        crypto = _PayloadCrypto(hdr)
        try:
            tree = decode_payload(code, cra, payload, crypto)
            opaque = payload_fully_decoded(tree)
            if opaque:
                failures.append((path.name, "opaque", opaque))
                continue
            text = json.dumps(tree)               # JSON-serialisable, and survives a round trip
            rebuilt = encode_payload(json.loads(text), crypto)
            if rebuilt != payload:
                failures.append((path.name, "re-encrypted rebuild differs"))
            # without crypto the stored ciphertext is emitted: same bytes again
            if encode_payload(json.loads(text)) != payload:
                failures.append((path.name, "ciphertext rebuild differs"))
            n = text.count('"ciphertext"')
            encrypted += n
            decrypted += crypto.decrypted
        except CodecError as e:
            failures.append((path.name, str(e)))
    assert failures == []
    # every encrypted part of the reference data decrypts with the RTDS keys (§2.3)
    assert encrypted == decrypted >= 30


def test_without_keys_encrypted_parts_are_reported_opaque():
    seen = 0
    for path in _files():
        code, cra, payload, _hdr = _split_rtds(path.read_text())
        tree = decode_payload(code, cra, payload)
        n = json.dumps(tree).count('"ciphertext"')
        assert len(payload_fully_decoded(tree)) == n
        assert encode_payload(tree) == payload
        seen += n
    assert seen >= 30


def _catalogue() -> dict[int, set[str]]:
    shapes: dict[int, set[str]] = {}
    for line in CATALOGUE.read_text().splitlines()[1:]:
        code, _name, shape = line.split("\t")
        shapes.setdefault(int(code, 16), set()).add(shape.strip())
    return shapes


def _obis_dotted(obis: str) -> str:
    return obis.replace("-", ".").replace(":", ".")


def _shape(tree: dict) -> str:
    """Describe a decoded COMMAND payload the way payload_catalogue.tsv does."""
    if tree["kind"] == "dlms":
        items = []
        kinds = {"access-request-get": "get", "access-request-set": "set",
                 "access-request-action": "action"}
        for s in tree["access_request_specification"]:
            if s["choice"] == "access-request-get-with-selection":
                kind = f"get-sel(sel{s['access_selector']})"
            else:
                kind = kinds[s["choice"]]
            item = f"m{s['method_id']}" if "method_id" in s else f"a{s['attribute_id']}"
            items.append(f"DLMS {kind} IC{s['class_id']} {_obis_dotted(s['obis'])} {item}")
        return " ; ".join(items)
    if tree["kind"] == "gbz":
        return " ; ".join(
            f"GBZ ctl{c['extended_header_control']:02x} cl{c['cluster_id']:04x} "
            f"fc{c['zcl']['frame_control']:02x} cmd{c['zcl']['command_id']}"
            for c in tree["components"])
    raise AssertionError("ASN.1 shapes are checked by tag")


@needs(CATALOGUE)
def test_command_payload_shapes_match_the_catalogue():
    catalogue = _catalogue()
    checked = 0
    for path in _files():
        if "_COMMAND_" not in path.name or "PRECOMMAND" in path.name:
            continue
        code, cra, payload, _hdr = _split_rtds(path.read_text())
        if code not in catalogue:
            continue
        tree = decode_payload(code, cra, payload)
        if tree["kind"] == "asn1":
            assert f"ASN.1 tag {payload[0]:02X}" in catalogue[code], path.name
        else:
            assert _shape(tree) in catalogue[code], path.name
        checked += 1
    assert checked > 200
