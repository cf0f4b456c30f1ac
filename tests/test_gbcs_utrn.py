"""UTRN generation and validation against the spec's vectors and the UTRNs inside RTDS commands."""

from __future__ import annotations

import re

import pytest

from protocols.errors import CodecError
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.framing import decode_frame
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.utrn import (VALUE_CLASS_PENNIES, VALUE_CLASS_POUNDS, check_digit, decode_utrn,
                                 generate_utrn, verify_utrn)

from tests.conftest import KEYSTORE as KEYS, RTDS, needs, needs_keys

SUPPLIER, ESME = 0x90B3D51F30010000, 0x00DB1234567890A0


@pytest.fixture(scope="module")
def crypto():
    return GbcsCrypto(KeyStore(KEYS))


@pytest.mark.parametrize("utrn", ["73943333457189043313", "74301825837596672005", "73946144332040217315"])
def test_check_digit_vectors(utrn):
    assert check_digit(utrn[:19]) == utrn[19]
    for pos in range(19):                         # any single-digit error is caught
        wrong = utrn[:pos] + str((int(utrn[pos]) + 3) % 10) + utrn[pos + 1:]
        with pytest.raises(CodecError):
            decode_utrn(wrong)


@needs_keys
@pytest.mark.parametrize("counter, cls, value, pptd", [
    (0x1_00000000, VALUE_CLASS_POUNDS, 100, "7394333345718904331"),
    (0x4_00000000, VALUE_CLASS_PENNIES, 1234, "7394725241674520163"),
    (0x1_00000000, VALUE_CLASS_POUNDS, 8191, "7394368095646343255"),
])
def test_generation_vectors(crypto, counter, cls, value, pptd):
    utrn = generate_utrn(crypto, SUPPLIER, ESME, counter, cls, value)
    assert utrn[:19] == pptd and len(utrn) == 20
    u = verify_utrn(crypto, utrn, SUPPLIER, ESME, counter)
    assert (u.value_class, u.value, u.counter_high_bits) == (cls, value, (counter >> 32) & 0x3FF)


@needs_keys
def test_vector_full_utrn_and_wrong_inputs(crypto):
    assert generate_utrn(crypto, SUPPLIER, ESME, 0x1_00000000, VALUE_CLASS_POUNDS, 100) == "73943333457189043313"
    with pytest.raises(CodecError):          # right counter bits, wrong device: tag fails
        verify_utrn(crypto, "73943333457189043313", SUPPLIER, 0x00DB1234567890A1, 0x1_00000000)
    with pytest.raises(CodecError):          # counter bits differ
        verify_utrn(crypto, "73943333457189043313", SUPPLIER, ESME, 0x2_00000000)
    with pytest.raises(KeyError):            # network operator has no prepayment key
        generate_utrn(crypto, 0x90B3D51F30020000, ESME, 1 << 32, 1, 1)
    with pytest.raises(CodecError):
        generate_utrn(crypto, SUPPLIER, ESME, 1 << 32, 1, 8192)


def test_decode_rejects_garbage():
    for bad in ("", "1234", "7394333345718904331X", "9" * 20):
        with pytest.raises(CodecError):
            decode_utrn(bad)


@needs_keys
@needs(RTDS / "2.2_CS01a", RTDS / "2.2_CS01b")
@pytest.mark.parametrize("folder, name, amount_pence", [
    ("2.2_CS01a", "CS01a_2.2_SUCCESS_COMMAND_GBCS.HEX", 1000),     # GBCS: GBP 10 to the ESME
    ("2.2_CS01b", "CS01b_2.2_SUCCESS_COMMAND_GBCS.HEX", 1250),     # 1250 pennies to the GSME
])
def test_rtds_top_up_utrns_regenerate(crypto, folder, name, amount_pence):
    gs = decode_frame(bytes.fromhex((RTDS / folder / name).read_text().strip())).signing
    (utrn,) = re.findall(rb"[0-9]{20}", gs.content)
    utrn = utrn.decode()
    u = verify_utrn(crypto, utrn, gs.originator, gs.recipient, gs.originator_counter)
    assert u.amount_pence == amount_pence
    assert generate_utrn(crypto, gs.originator, gs.recipient, gs.originator_counter,
                         u.value_class, u.value) == utrn
