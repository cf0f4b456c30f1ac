"""The use-case catalogue checked against the spec's table and the RTDS reference messages."""

from __future__ import annotations

from protocols.gbcs.catalogue import alert_codes, alert_name, use_case, use_case_by_name, use_cases
from protocols.gbcs.framing import decode_frame
from tests.conftest import RTDS, needs_rtds


def test_spec_table_rows():
    # spec section 5: 224 codes from the parser + 16 RTDS-only = 240; Appendix B: 184 alert codes
    assert len(use_cases()) == 240
    assert len(alert_codes()) == 184
    u = use_case(0x0027)
    assert (u.name, u.criticality, u.service_reference, u.payload_kind, u.target_device_types) == \
        ("ECS17b", "non-critical", "4.1", "dlms", ("ESME",))
    assert u.service_name == "Read Instantaneous Import Registers"
    g = use_case(0x0075)
    assert g.name == "GCS14" and g.payload_kind == "gbz" and "GSME" in g.target_device_types
    assert use_case(0x0019).criticality == "critical"          # ECS01a SME.C.C
    assert use_case(0x009B).han_only and use_case(0x0090).han_only and not use_case(0x0027).han_only
    assert use_case(0x007F).payload_kind == "asn1"             # GCS28: ASN.1 on a gas meter (section 3)
    assert use_case(0x0061).is_alert and use_case(0x0061).criticality == "critical"   # ECS68 SME.A.C
    assert len(use_case_by_name("CS02b")) == 10
    assert use_case(0x7777) is None
    assert alert_name(0x8F30).startswith("Source Does not have Authority")


@needs_rtds
def test_rtds_codes_names_and_service_references():
    checked = 0
    for path in sorted(RTDS.rglob("*.HEX")):
        gs = decode_frame(bytes.fromhex(path.read_text().strip())).signing
        uc = use_case(gs.message_code)
        assert uc is not None, (path.name, hex(gs.message_code))
        srv, _, folder_uc = path.parent.name.partition("_")
        if srv == "NA" or "_ERROR_" in path.name or uc.name.startswith(("Generic", "Fut")) \
                or "alert" in uc.title.lower():
            continue
        # folder "<DUIS SRV variant>_<use case>[variant]" names the same use case and service
        assert folder_uc.startswith(uc.name) or uc.name.startswith(folder_uc[:5]), (path, uc.name)
        if uc.service_reference:
            assert (srv + ".").startswith(uc.service_reference + "."), (path, uc.service_reference)
        checked += 1
    assert checked > 400


@needs_rtds
def test_rtds_criticality_and_payload_kind():
    kinds = {0x01: "gbz", 0xD9: "dlms", 0xDA: "dlms", 0x0F: "dlms"}
    for path in sorted(RTDS.rglob("*_COMMAND_*.HEX")):
        gs = decode_frame(bytes.fromhex(path.read_text().strip())).signing
        uc = use_case(gs.message_code)
        if uc.criticality == "critical":
            assert gs.signature, path.name
        elif uc.criticality == "non-critical":
            assert gs.signature == b"", path.name
        first = gs.content[0]
        if uc.payload_kind == "asn1":
            assert first not in (0xD9, 0xDA) and gs.content[:2] != b"\x01\x09", path.name
        else:
            assert kinds.get(first) == uc.payload_kind, (path.name, uc.payload_kind)
