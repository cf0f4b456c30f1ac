"""Every use case of the catalogue that has no DCC reference command in shared/ is answered as a
real device answers it.

The RTDS replay (tests/test_rtds_replay.py) proves the use cases the shared reference data
holds.  Here every other command use case of the ESME, GSME, GPF, CHF, PPMID and HCALCS in the
GBCS catalogue (among them those of the reference folders that are not shipped, e.g. ECS17b,
ECS52, GCS38, CS06, CS07, CS02c, GCS59, DBCH01, ECS47e) is built from the catalogue's item
list, delivered to a provisioned device through the same entry the replay uses
(C{GbcsDevice.receive}), and the answer is checked against the spec: one response, same
message code and counter, originator and recipient swapped, MAC (or signature) verifying under
the DCC's keys, and the payload structure the catalogue gives (DLMS: one result per item, of
the item's kind, success, data of the attribute's type; GBZ: components per command component
on the same cluster, opposite direction, success statuses; ASN.1: one of the use case's
response types).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from protocols.gbcs import catalogue, decode_message
from protocols.gbcs.framing import CRA_RESPONSE, decode_frame
from protocols.gbcs.message import VERIFIED
from protocols.gbcs.payloads import asn1

from emulator.devices.gbcs import DEVICE_CLASSES
from emulator.devices.gbcs.firmware import make_ota_image, distribute, parse_ota_image

from tests.device_usecase_helpers import (DEVICE_EUIS, command, dlms_payloads, expected_dlms_type, gbz_payloads,
                                          home)
from tests.gbcs_helpers import KEYSTORE, RTDS

if not RTDS.is_dir() or not KEYSTORE.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(f"reference data missing under CI: {RTDS} / {KEYSTORE}")
    pytest.skip("shared RTDS data not present", allow_module_level=True)

EMULATED = ("ESME", "GSME", "GPF", "CHF", "PPMID", "HCALCS")


def _reference_codes() -> set[int]:
    codes = set()
    for f in Path(RTDS).rglob("*_COMMAND_GBCS.HEX"):
        codes.add(decode_frame(bytes.fromhex("".join(f.read_text().split()))).signing.message_code)
    return codes


def _asn1_command(h, code: int) -> dict | None:
    """ASN.1 command values (gbcs-wire-format 4.3) for the use cases the shared data lacks."""
    values = {
        0x000A: ("IssueSecurityCredentialsCommand", {"keyUsage": {"bits": 1, "value": "80"}}),
        0x0012: ("ActivateFirmwareCommand", {"manufacturerImageHash": _IMAGE_HASH.hex().upper(),
                                             "originatorCounter": 1}),
        0x0013: ("ReadDeviceJoinDetailsCommand", None),
        0x008C: ("RestoreGPFDeviceLogCommand", {"deviceLogEntries": [
            {"deviceID": f"{DEVICE_EUIS['GSME']:016X}", "deviceType": 0},
            {"deviceID": f"{DEVICE_EUIS['PPMID']:016X}", "deviceType": 5}]}),
    }
    if code not in values:
        return None
    type_name, value = values[code]
    return {"kind": "asn1", "asn1_type": type_name, "value": value, "length_encoding": "der"}


_IMAGE = make_ota_image(0x00020003, b"firmware image body " * 40)
_IMAGE_HASH = parse_ota_image(_IMAGE).image_hash

#: use cases whose command needs data this generic builder cannot make, each with why; they
#: are proven elsewhere (named test)
_BUILT_ELSEWHERE = {
    0x0100: "CS02b rootBySupplier: credentials replacement, same handler as the shipped CS02b tests",
    0x0101: "CS02b rootByWanProvider: as above",
    0x0104: "CS02b ACBByACB: as above",
    0x0109: "CS02b anyByContingency: as above",
}


def _cases() -> list[tuple[int, str]]:
    shipped = _reference_codes()
    out = []
    for uc in catalogue.use_cases():
        if uc.is_alert or uc.message_code in shipped or uc.message_code in _BUILT_ELSEWHERE:
            continue
        if uc.payload_kind is None:
            continue                  # ZSE HAN-only (PECS*, HECS01): no GBCS payload to build
        if uc.payload_kind == "asn1" and "command" not in asn1.MESSAGE_TYPES.get(uc.message_code, {}):
            continue                  # an alert-only message code the tables list as a use case
        if uc.payload_kind == "dlms" and not dlms_payloads(home("ESME"), uc.message_code):
            continue                  # alert-only DLMS message code (ECS100)
        for dtype in uc.target_device_types:
            if dtype == "HCALCS" and uc.name.startswith("ECS"):
                continue              # the ESME's configuration of the HCALCS it controls (ECS46c)
            if dtype in EMULATED:
                out.append((uc.message_code, dtype))
    return out


CASES = _cases()


def _ids(case):
    code, dtype = case
    return f"{catalogue.use_case(code).name}-{dtype}"


def test_hidden_reference_use_cases_are_among_the_cases():
    """The use cases of the reference folders not in shared/ (spec Appendix C minus shared/)
    that target emulated devices are all checked here."""
    spec = (Path(RTDS).parents[1] / "spec" / "gbcs-wire-format.md").read_text(encoding="utf-8")
    appendix = spec.split("## Appendix C", 1)[1].split("\n## ", 1)[0]
    shipped = {p.name for p in Path(RTDS).iterdir()}
    covered = {c for c, _ in CASES} | _reference_codes() | set(_BUILT_ELSEWHERE)
    missing = []
    for line in appendix.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 8 or not cells[1] or cells[1] in shipped or cells[1] == "folder" or cells[2] in ("0", ""):
            continue
        if not cells[2].isdigit() or int(cells[2]) == 0:
            continue                              # alert-only folders
        for code_text in cells[6].split(","):
            uc = catalogue.use_case(int(code_text.strip(), 16))
            if uc is not None and not uc.is_alert and uc.message_code not in covered:
                missing.append((cells[1], uc.name))
    assert not missing, missing
    assert len(CASES) > 40


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_use_case_is_answered_as_the_spec_says(case):
    code, dtype = case
    uc = catalogue.use_case(code)
    h = home(dtype)
    assert h.device.supports(code), f"{uc.name} not implemented by {dtype}"
    if uc.payload_kind == "dlms":
        built = dlms_payloads(h, code)
    elif uc.payload_kind == "gbz":
        built = gbz_payloads(h, code)
    else:
        tree = _asn1_command(h, code)
        assert tree is not None, f"no ASN.1 command for {uc.name}"
        built = [([], tree)]
        if code == 0x0012:
            distribute(h.device, _IMAGE)          # activation needs a distributed image
    assert built, f"catalogue has no command form for {uc.name}"
    for items, payload in built:
        h.sent.clear()
        raw = command(h, code, payload)
        frame = decode_frame(raw)
        cmd = frame.signing
        h.device.prepare(frame, payload)      # the state the command presupposes, as the replay stages it
        h.device.receive(raw)
        msgs = [decode_message(m, h.dcc) for m in h.sent]
        responses = [m for m in msgs if m.frame.signing.cra_flag == CRA_RESPONSE]
        why = h.device.last_rejection.reason if h.device.last_rejection else ""
        assert len(responses) == 1, f"{uc.name}: {len(responses)} responses {why}"
        r = responses[0]
        gs = r.frame.signing
        assert gs.message_code == code and gs.originator_counter == cmd.originator_counter
        assert gs.originator == h.device.eui and gs.recipient == cmd.originator
        if r.frame.ciphering is not None:
            assert r.verification.mac == VERIFIED
        else:
            assert r.verification.signature == VERIFIED
        _check_structure(uc, items, payload, r.payload)


def _check_structure(uc, items, command_payload, p) -> None:
    if uc.payload_kind == "dlms":
        assert p["apdu"] == "Access-Response"
        specs, data = p["access_response_specification"], p["access_response_list_of_data"]
        assert len(specs) == len(items) == len(data), uc.name
        for it, spec, value in zip(items, specs, data):
            kind = "get" if it.kind.startswith("get") else it.kind
            assert spec["choice"] == f"access-response-{kind}", (uc.name, it)
            assert spec["result"] == 0, (uc.name, it, spec)
            if kind == "get":
                want = expected_dlms_type(it.class_id, it.obis, it.item_id)
                assert want is not None and value["type"] == want, (uc.name, it, value)
    elif uc.payload_kind == "gbz":
        comps = p["components"]
        sent = command_payload["components"]
        assert len(comps) >= len(sent), uc.name
        clusters = [c["cluster_id"] for c in sent]
        assert [c["cluster_id"] for c in comps if c["cluster_id"] in clusters] == \
            sorted((c["cluster_id"] for c in comps), key=clusters.index)
        for c in comps:
            z = c["zcl"]
            sent_dir = next(s["zcl"]["frame_control"] & 0x08 for s in sent if s["cluster_id"] == c["cluster_id"])
            assert z["frame_control"] & 0x08 != sent_dir, (uc.name, z)
            body = z.get("payload") or (z.get("ciphered_information") or {}).get("plaintext") or {}
            if z["command_id"] == 0x0B and z["frame_control"] & 0x03 == 0:
                assert body.get("Status") == 0, (uc.name, body)
            for rec in body.get("Records") or []:
                assert rec.get("Status") == 0, (uc.name, rec)
        assert comps[-1]["extended_header_control"] & 0x01
    else:
        assert p["asn1_type"] in asn1.MESSAGE_TYPES[uc.message_code]["response"]
        v = p["value"]
        assert not isinstance(v, int) or v == 0, (uc.name, v)


def test_every_emulated_device_type_has_cases():
    assert {d for _c, d in CASES} >= {"ESME", "GSME", "GPF", "CHF"}
    assert set(DEVICE_CLASSES) >= set(EMULATED)
