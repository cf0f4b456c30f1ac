"""Fuzzing: malformed GBCS input raises only CodecError (hypothesis, > 10,000 cases in total)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from protocols.errors import CodecError
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.framing import OtherInformation, decode_frame, encode_frame
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import decode_message, encode_message, message_to_tree
from protocols.gbcs.utrn import decode_utrn
from tests.gbcs_helpers import time_limit

from tests.conftest import KEYSTORE as KEYS, RTDS

# seeds: RTDS messages if present, else the spec's synthetic ECS12 pair (section 8.4)
_SEEDS = [bytes.fromhex(p.read_text().strip()) for p in sorted(RTDS.rglob("*.HEX"))][::7] if RTDS.is_dir() else []
_SEEDS = _SEEDS or [bytes.fromhex(
    "DD000000000000541100000000DF0901000000000000000208123456789ABCDEF008FFFFFFFFFFFFFFFE"
    "0002002220D920000002000102000100005E2C03020201090C07DF0105FF000000008000FF00"
    "0F1DD00D6745EBD8E0A663A4")]
_CRYPTO = GbcsCrypto(KeyStore(KEYS)) if KEYS.is_dir() else None

# A mutated CS02b command (hypothesis found it): its ASN.1 payload once sent the decoder into an
# endless loop that ate memory.  Kept as an explicit example.
_ENDLESS_ASN1 = bytes.fromhex(
    "DF090100000000000003EC0890B3D51F300100000800DB1234567890A0000201028206E6308206E2301D020102A207020102"
    "03020780830203EC840100A508300602010002010030820506318201B9308201AC30820152A00302010202104A07BC01D925"
    "3B51FAF01F7EC7DA5B2F300A06082A8648CE3D040302301A310B3009060355040B13023037310B3009060355040313025A31"
    "301E170D3136303131303030303030305A170D3236303130393233353935395A303B3118301606035504030C0F4749545445"
    "5354535550504C494552310B3009060355040B0C02303231123010060355042D03090090B3D51F300100003059301306072A"
    "8648CE3D020106082A8648CE3D03010703420004FA6FBFFA1C9A4E42F4A3CD659F3BEB90A31B565AED7BA7917748BA684FE4"
    "C600213CBE9D25821FA780D947B975C930F377ABA12102900442647A99A3652088B0A3593057300E0603551D0F0101FF0404"
    "0302078030110603551D0E040A040843046B4FB7C4F11B301D0603551D200101FF04133011300F060D2A863A0001848FB90F"
    "0102010430130603551D23040C300A80084F5688D7EC933BE2300A06082A8648CE3D0403020348003045022100BD7BC946C0"
    "01BFFDE7C843BF0D55B99E9DD64CFB8786C2507DCE1F229C51066502207FB42F36E32089FCB5354AE5F9D1995FF01DF1B472"
    "353B13A7B17029EB0D42F23007020102030207803082019F3082019230820138A003020102021056BAD381C75108CC442C84"
    "61BAA79861300A06082A8648CE3D040302301A310B3009060355040B13023037310B3009060355040313025A32301E170D31"
    "35313033303030303030305A170D3235313032393233353935395A3021310B3009060355040B0C0230323112301006035504"
    "2D03090090B3D51F300100003059301306072A8648CE3D020106082A8648CE3D030107034200047340F06587095AA7A76BA1"
    "CF7E0706B75E7B3D2A38C2BD6AC521C92EF101E41926260877A72372065C616DCAAB80D23D200C882DA6A818CDB9EE6E281F"
    "615F15A3593057300E0603551D0F0101FF04040302030830110603551D0E040A040846E0D35B0962E343301D0603551D2001"
    "01FF04133011300F060D2A863A0001848FB90F0102010430130603551D23040C300A800849D2A8DF85845FC3300A06082A86"
    "48CE3D0403020348003045022043CFC48E27C3214FEE452015C0D8A2FFB85374F170984DD81283B813FD1F0D69022100B1D2"
    "7A48919792BDE45B0D2D3C8B4589EE431C31895DBD4DAEE52ACFBDE99A21300702010203020308308201A230820192308201"
    "38A00302010202105BC2F4D9349C5E0F2DE978BDBE476FE6300A06082A8648CE3D040302301A310B3009060355040B130230"
    "37310B3009060355040313025A31301E170D3136303131303030303030305A170D3236303130393233353935395A3021310B"
    "3009060355040B0C02303231123010060355042D03090090B3D51F300100003059301306072A8648CE3D020106082A8648CE"
    "3D030107034200045C7683F015DD6DEBADE7425D3408C53753F4EB0A68560E869412BF409F9E5D81B92D8AEE3291A7DB62F0"
    "74A75E01B6305CB7E0FFBE5CC6330D30792B144C0DACA3593057300E0603551D0F0101FF04040302030830110603551D0E04"
    "0A04084EB07A1BCA0DD58C301D0603551D200101FF04133011300F060D2A863A0001848FB90F0102010430130603551D2304"
    "0C300A80084F5688D7EC933BE2300A06082A8648CE3D0403020348003045022100FCFB5BC8F1A300A0DC399EE06F5EEB91EF"
    "27FEE74B530817C356E1BC04A2B47F022044F9AFCD9D2070CE7EFD01C751645BCB7B467061C02CFEEDBF3E700F561FC5F630"
    "0A02010203020308020101308201A4308201A030820145A003020102021071872BDBC82789BC1401CE01BA06ADA3300A0608"
    "2A8648CE3D040302301A310B3009060355040B13023030310B3009060355040313025A41301E170D31353130323930303030"
    "30305A170D3430313032383233353935395A301A310B3009060355040B13023037310B3009060355040313025A3130593013"
    "06072A8648CE3D020106082A8648CE3D030107034200041A2B924097B58D70B0C2CF74EBA1D2A6F1D6AB56955343F1329468"
    "C64327FCFE28876B560CB5C783A5722FD3B9EBD8F3A29441D9CFF42554ACA8778E34741CD5A36D306B300E0603551D0F0101"
    "FF04040302010630120603551D130101FF040830060101FF020100301D0603551D200101FF04133011300F060D2A863A0001"
    "848FB90F0102010430110603551D0E040A04084F5688D7EC933BE230130603551D23040C300A800848CF1B32697C4669300A"
    "06082A8648CE3D0403020349003046022100FCDF2E968025E2E8F8D353488DA767DECC0AAA3C8A86B27DDC13F65F321632B5"
    "022100AE3162D4BFC91D05BA6CC6B6DE4668EA9291DE8FB2C6E1B74B4E8D0C6BABC76A180F32303330303131353030303030"
    "305A")


def _n(n: int) -> settings:
    return settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck))


# 2000 + 1500 + 2000 + 2500 + 1000 + 1000 + 500 = 10,500 cases in total


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


def _framing_round_trip(data: bytes) -> None:
    """Bytes that decode as a frame re-encode to exactly themselves."""
    frame = _only_codec_errors(decode_frame, data)
    if frame is not None:
        assert encode_frame(frame.signing, frame.ciphering) == data


@_n(2000)
@given(st.binary(max_size=200))
def test_random_bytes_framing(data):
    _framing_round_trip(data)


@_n(1500)
@given(st.binary(min_size=0, max_size=120).map(lambda b: bytes([0xDF, 0x09]) + b))
def test_random_df_bodies_framing(data):
    _framing_round_trip(data)


@_n(2000)
@given(mutated())
def test_mutated_rtds_framing(data):
    _framing_round_trip(data)




@_n(2500)
@given(mutated())
@example(_ENDLESS_ASN1)
def test_mutated_rtds_whole_message(data):
    """Framing + MAC/signature checks + (when available) payload decoding and decryption."""
    with time_limit(5):
        msg = _only_codec_errors(decode_message, data, _CRYPTO, decode_payload=True)
    if msg is not None:
        tree = json.loads(json.dumps(message_to_tree(msg)))
        assert encode_message(tree) == data   # what decodes, re-encodes to the same bytes


_JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 1 << 70), st.text(max_size=20),
                         st.sampled_from(["", "00", "ZZ", "0" * 16, "sign", "ecdsa", "absent", "null"]),
                         st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_HEADER_KEYS = ["message_code", "cra", "originator_counter", "originator", "recipient", "date_time",
                "other_information", "general_ciphering", "signature_field", "content", "payload"]


@_n(1000)
@given(st.sampled_from(_SEEDS), st.dictionaries(st.sampled_from(_HEADER_KEYS), _JSON_VALUES, min_size=1, max_size=3))
def test_garbled_trees_encode(seed, changes):
    tree = message_to_tree(decode_message(seed, None, decode_payload=False))
    tree.update(changes)
    _only_codec_errors(encode_message, tree)


@_n(1000)
@given(st.binary(max_size=40))
def test_other_information(data):
    _only_codec_errors(OtherInformation.decode, data)


@_n(500)
@given(st.text(alphabet="0123456789 x", max_size=24))
def test_utrn_strings(text):
    _only_codec_errors(decode_utrn, text)
