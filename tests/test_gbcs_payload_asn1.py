"""ASN.1 DER payloads (GBCS notes §4.3/§4.4) with the asn1tools-compiled gbcs.asn.

Vectors: RTDS files (DCC), RTDS keystore certificates, and DER written from the GBCS notes'
structure descriptions (e.g. INTEGER 0x8071 -> 02 03 00 80 71).
"""

from __future__ import annotations


import pytest

from protocols.errors import CodecError
from protocols.gbcs.payloads import asn1, decode_payload, encode_payload, payload_fully_decoded
from tests.gbcs_helpers import KEYSTORE as KEYS, RTDS, needs_rtds, split_rtds



def _split(hexstr: str) -> tuple[int, int, bytes]:
    return split_rtds(hexstr)[:3]


def _one(pattern: str) -> tuple[int, int, bytes]:
    paths = sorted(RTDS.rglob(pattern))
    assert paths, pattern
    return _split(paths[0].read_text())


def test_schema_compiles_once():
    assert asn1.schema() is asn1.schema()


def test_gcs62_device_log_backup_alert():
    # GBCS notes §4.3: SEQ{alert code, backup date-time, SEQ OF device log entry};
    # alert 0x8071 is INTEGER 02 03 00 80 71
    der = bytes.fromhex("3030" "020300" "8071" "180F" + b"20150101000000Z".hex()
                        + "3014" "3008" "0403010203" "020106" "3008" "0403AABBCC" "020100")
    der = bytes([0x30, len(der) - 2]) + der[2:]
    tree = decode_payload(0x00B2, 3, der)
    v = tree["value"]
    assert tree["asn1_type"] == "GPFDeviceLogBackupAlert"
    assert v["alertCode"] == 0x8071
    assert v["backupDateTime"] == {"generalized_time": "20150101000000Z"}
    assert v["deviceLogEntries"] == [{"deviceID": "010203", "deviceType": 6},
                                     {"deviceID": "AABBCC", "deviceType": 0}]
    assert encode_payload(tree) == der


def test_explicit_default_cell_usage_is_kept():
    # CS02a command whose trust anchor cell identifier carries cellUsage 0 (management,
    # the GBCS DEFAULT) explicitly: DER would drop it; RTDS-style bytes must survive.
    der = bytes.fromhex("3014" "300A" "020102" "03020780" "020100" "3006" "020102" "020103")
    tree = decode_payload(0x0008, 1, der)
    assert tree["value"]["authorisingRemotePartyTACellIdentifier"]["trustAnchorCellUsage"] == 0
    assert encode_payload(tree) == der


def test_non_minimal_length_forms_are_reproduced():
    # RTDS encodes lengths 0x80-0xFF as 82 00 nn: a CS02a response with 150 content bytes
    entry = bytes.fromhex("3006" "020103" "0A0119")
    body = entry * 25
    der = bytes.fromhex("308200") + bytes([len(body)]) + body
    tree = decode_payload(0x0008, 2, der)
    assert tree["length_encoding"] == "gbcs"
    assert len(tree["value"]) == 25 and tree["value"][0]["status"] == "trustAnchorNotFound"
    assert encode_payload(tree) == der
    minimal = bytes.fromhex("3081") + bytes([len(body)]) + body
    tree = decode_payload(0x0008, 2, minimal)
    assert tree["length_encoding"] == "der" and encode_payload(tree) == minimal


def test_unknown_message_code_falls_back_to_structural_der():
    der = bytes.fromhex("300B" "020300F00D" "8001FF" "040100")
    tree = decode_payload(0x7777, 2, der)
    assert tree["asn1_type"] == "generic-DER"
    (seq,) = tree["value"]
    assert seq["children"][0]["integer"] == 0xF00D
    assert payload_fully_decoded(tree) == []
    assert encode_payload(tree) == der


@pytest.mark.parametrize("hexdata", ["30", "3005020100", "3003020101FF", "1F", "3084000000010500"])
def test_malformed_der_raises_codec_error(hexdata):
    with pytest.raises(CodecError):
        decode_payload(0x0013, 2, bytes.fromhex(hexdata))


def test_wrong_type_for_message_code_raises_or_falls_back():
    # CS07 command is NULL; an INTEGER payload is not a CS07 command -> structural fallback
    tree = decode_payload(0x0013, 1, bytes.fromhex("020101"))
    assert tree["asn1_type"] == "generic-DER"
    with pytest.raises(CodecError):
        asn1.decode_type("ReadDeviceJoinDetailsCommand", bytes.fromhex("020101"))


@needs_rtds
def test_cs02e_response_certificate_is_the_keystore_device_certificate():
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    code, cra, payload = _one("CS02e_6.24.2_SUCCESS_RESPONSE_GBCS.HEX")
    tree = decode_payload(code, cra, payload)
    assert tree["asn1_type"] == "Certificate"
    cert = tree["value"]
    ks = x509.load_pem_x509_certificate((KEYS / "00db1234567890a0-ds.pem").read_bytes())
    assert cert["der"] == ks.public_bytes(Encoding.DER).hex().upper()
    assert cert["entity_id"] == "00DB1234567890A0"
    assert cert["issuer"] == "CN=E357" and cert["key_usage"] == ["digital_signature"]
    assert encode_payload(tree) == payload


@needs_rtds
def test_cs02b_command_certificates_carry_the_org_entity_ids():
    code, cra, payload = _one("CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")
    tree = decode_payload(code, cra, payload)
    v = tree["value"]
    assert tree["asn1_type"] == "UpdateSecurityCredentialsCommand"
    assert v["authorisingRemotePartyControl"]["credentialsReplacementMode"] == 2  # supplierBySupplier
    for rep in v["replacements"]:
        assert rep["newRemotePartyCertificate"]["entity_id"].startswith("90B3D51F")
    assert all("der" in c for c in v["certificationPathCertificates"])
    assert encode_payload(tree) == payload


@needs_rtds
def test_asn1_alerts_match_rtds_file_names_and_times():
    n = 0
    for path in sorted(RTDS.rglob("*ALERT*.HEX")):
        code, cra, payload = _split(path.read_text())
        if payload[:1] != b"\x30":
            continue
        tree = decode_payload(code, cra, payload)
        v = tree["value"]
        parts = path.name.split("_")
        if len(parts) > 2 and len(parts[2]) == 4 and parts[2] != "NA":
            assert v["alertCode"] == int(parts[2], 16), path.name
        times = [x["generalized_time"] for x in v.values() if isinstance(x, dict) and "generalized_time" in x]
        assert times and times[0] in ("20150101000000Z", "20300115000000Z", "20300102000000Z"), path.name
        assert encode_payload(tree) == payload
        n += 1
    assert n >= 5


@needs_rtds
def test_gcs28_set_clock_times():
    code, cra, payload = _one("GCS28Commission_8.1.1_*SUCCESS_COMMAND_GBCS.HEX")
    tree = decode_payload(code, cra, payload)
    v = tree["value"]
    assert tree["asn1_type"] == "SetClockCommand"
    assert v["validityIntervalStart"]["generalized_time"].endswith("Z")
    assert encode_payload(tree) == payload
