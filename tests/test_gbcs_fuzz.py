"""Fuzzing: malformed GBCS input raises only CodecError (hypothesis, > 10,000 cases in total)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.errors import CodecError
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.framing import OtherInformation, decode_frame
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import decode_message, encode_message, message_to_tree
from protocols.gbcs.utrn import decode_utrn

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RTDS = SHARED / "rtds" / "RTDS-4.5.0"
KEYS = SHARED / "rtds" / "keystore"

# seeds: RTDS messages if present, else the spec's synthetic ECS12 pair (section 8.4)
_SEEDS = [bytes.fromhex(p.read_text().strip()) for p in sorted(RTDS.rglob("*.HEX"))][::7] if RTDS.is_dir() else []
_SEEDS = _SEEDS or [bytes.fromhex(
    "DD000000000000541100000000DF0901000000000000000208123456789ABCDEF008FFFFFFFFFFFFFFFE"
    "0002002220D920000002000102000100005E2C03020201090C07DF0105FF000000008000FF00"
    "0F1DD00D6745EBD8E0A663A4")]
_CRYPTO = GbcsCrypto(KeyStore(KEYS)) if KEYS.is_dir() else None


def _payloads_ready() -> bool:
    try:
        from protocols.gbcs import payloads
    except ImportError:
        return False
    return hasattr(payloads, "decode_payload")


FAST = settings(max_examples=4000, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def mutated(draw) -> bytes:
    """An RTDS message with a few random truncations, flips, insertions or deletions."""
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF, 0x09, 0x0C, 0x40]))
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[i:i + draw(st.integers(1, 8))]
    return bytes(data)


def _only_codec_errors(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except CodecError:
        return None


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_framing(data):
    _only_codec_errors(decode_frame, data)


@FAST
@given(st.binary(min_size=0, max_size=120).map(lambda b: bytes([0xDF, 0x09]) + b))
def test_random_df_bodies_framing(data):
    _only_codec_errors(decode_frame, data)


@FAST
@given(mutated())
def test_mutated_rtds_framing(data):
    _only_codec_errors(decode_frame, data)


@SLOW
@given(mutated())
def test_mutated_rtds_whole_message(data):
    """Framing + MAC/signature checks + (when available) payload decoding and decryption."""
    msg = _only_codec_errors(decode_message, data, _CRYPTO, decode_payload=_payloads_ready())
    if msg is not None:
        tree = json.loads(json.dumps(message_to_tree(msg)))
        _only_codec_errors(encode_message, tree)


_JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 1 << 70), st.text(max_size=20),
                         st.sampled_from(["", "00", "ZZ", "0" * 16, "sign", "ecdsa", "absent", "null"]),
                         st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_HEADER_KEYS = ["message_code", "cra", "originator_counter", "originator", "recipient", "date_time",
                "other_information", "general_ciphering", "signature_field", "content", "payload"]


@SLOW
@given(st.sampled_from(_SEEDS), st.dictionaries(st.sampled_from(_HEADER_KEYS), _JSON_VALUES, min_size=1, max_size=3))
def test_garbled_trees_encode(seed, changes):
    tree = message_to_tree(decode_message(seed, None, decode_payload=False))
    tree.update(changes)
    _only_codec_errors(encode_message, tree)


@FAST
@given(st.binary(max_size=40))
def test_other_information(data):
    _only_codec_errors(OtherInformation.decode, data)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789 x", max_size=24))
def test_utrn_strings(text):
    _only_codec_errors(decode_utrn, text)
