"""Use cases whose RTDS folder is not in shared/ (spec/gbcs-wire-format.md Appendix C lists them).

With no reference command to compare with, each of our DUIS requests (tests/data/duis, in the
form of the shared templates) is checked the strongest ways left:

  - the transform builds the use case the file names, with that use case's message code;
  - the command decodes with our GBCS codec; its MAC (and, critical, the user's signature)
    verifies with the RTDS keys;
  - a DLMS command names exactly the COSEM items the payload catalogue gives for the message
    code, in order (a GBZ one: the catalogue's clusters and commands);
  - an emulated device of the target's type takes it: it answers with a response of the same
    message code and every item succeeds.

ECS01a / GCS01a have their own, deeper test (tests/test_acb_hidden_tariff.py).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from emulator.clock import VirtualClock
from emulator.devices.gbcs import DEVICE_CLASSES, provision
from emulator.devices.gbcs.provisioning import acb_eui
from protocols.acb import Transformer
from protocols.acb.context import catalogue_name
from protocols.acb.dlms_items import catalogue_items
from protocols.acb.request import Body
from protocols.acb.usecases import SERVICES
from protocols.gbcs import GbcsCrypto, KeyStore, catalogue, decode_message, sign_precommand
from protocols.gbcs.framing import CRA_RESPONSE

from tests.conftest import SPEC

from .acb_helpers import KEYSTORE, RTDS_NOW, FixedClock, need_shared, parse_template, request_from_template, \
    template_use_case

DATA = Path(__file__).resolve().parent / "data" / "duis"
APPENDIX_C = SPEC / "gbcs-wire-format.md"
FILES = sorted(p for p in DATA.glob("*_REQUEST_DUIS.XML") if not p.name.startswith(("ECS01a_", "GCS01a_")))
DEVICES = DEVICE_CLASSES
#: Use cases the emulated devices do not execute yet.
DEVICE_LACKS: set[str] = set()
#: (cluster, command) of the snapshot log reads: one per log entry asked for, NOT_FOUND past the
#: log's last entry in the period (Metering Get Snapshot, Prepayment Get Prepay Snapshot)
SNAPSHOT_READS = {(0x0702, 0x06), (0x0705, 0x07)}


def _catalogue_gbz(code: int) -> list[list[tuple[int, int, int]]]:
    """The payload catalogue's GBZ component lists (cluster, frame control, command) of a code."""
    import csv
    path = Path(catalogue.__file__).resolve().parent / "data" / "payload_catalogue.tsv"
    item = re.compile(r"GBZ ctl[0-9A-F]{2} cl([0-9A-F]{4}) fc([0-9A-F]{2}) cmd(\d+)", re.I)
    with open(path, newline="", encoding="utf-8") as f:
        return [[(int(c, 16), int(fc, 16), int(n)) for c, fc, n in item.findall(row[2])]
                for row in csv.reader(f, delimiter="\t") if row and row[0].upper() == f"{code:04X}"]


@pytest.fixture(scope="module")
def keys() -> KeyStore:
    return KeyStore(need_shared(KEYSTORE))


def _hidden_folders() -> set[str]:
    """RTDS 4.5.0 folders Appendix C lists that shared/ does not hold."""
    from .acb_helpers import RTDS
    text = need_shared(APPENDIX_C).read_text()
    listed = set(re.findall(r"^\| ((?:\d+(?:\.\d+)*|NA)_[A-Za-z0-9-]+) \|", text.split("## Appendix C", 1)[1], re.M))
    return listed - {p.name for p in need_shared(RTDS).iterdir()}


def _choice(path: Path) -> str | None:
    """The use case the inventory names when the variant has several forms on the device."""
    uc = template_use_case(path)[0]
    req = request_from_template(path)
    entry = SERVICES[req.service_reference_variant]
    names = (entry(Body(req.body)) if callable(entry) else entry)[req.device_type]
    return uc if len(names) > 1 else None


def test_every_request_here_is_for_a_hidden_folder():
    hidden = _hidden_folders()
    assert len(hidden) >= 54
    for p in FILES:
        uc, srv, _rest = template_use_case(p)
        assert f"{srv}_{uc}" in hidden, p.name


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.replace("_REQUEST_DUIS.XML", ""))
def test_hidden_use_case_builds_decodes_and_the_device_takes_it(path, keys):
    uc = template_use_case(path)[0]
    dcc = GbcsCrypto(keys, acb_eui(keys))
    request = request_from_template(path, _choice(path))
    t = Transformer(dcc, FixedClock(), acb_counter=lambda: 5_000_000)
    result = t.transform(request)
    assert catalogue_name(result.use_case) == catalogue_name(uc)
    (code_uc,) = catalogue.use_case_by_name(catalogue_name(uc))
    assert result.message_code == code_uc.message_code
    header, _body = parse_template(path)
    assert (header["CommandVariant"] == "4") == result.critical, "the file's CommandVariant says how critical it is"
    command = t.complete(result, sign_precommand(result.precommand, dcc)) if result.critical else result.command
    msg = decode_message(command, dcc)
    assert msg.verification.mac == "verified"
    if result.critical:
        assert msg.verification.signature == "verified"
    gs = msg.frame.signing
    assert gs.message_code == result.message_code and gs.recipient == request.target
    payload = msg.payload
    if payload["kind"] == "dlms":
        got = [(s["class_id"], s["obis"], s.get("attribute_id", s.get("method_id")))
               for s in payload["access_request_specification"]]
        variants = [[(it.class_id, it.obis, it.item_id) for it in v] for v in catalogue_items(result.message_code)]
        assert got in variants, f"{got} not among the catalogue's {variants}"

    elif payload["kind"] == "gbz":
        got = [(c["cluster_id"], c["zcl"]["frame_control"], c["zcl"]["command_id"]) for c in payload["components"]]
        assert got in _catalogue_gbz(result.message_code)

    device_cls = DEVICES[request.device_type]
    sent: list[bytes] = []
    device = provision(device_cls, request.target, keys, VirtualClock(RTDS_NOW), sent.append, rng=random.Random(1))
    if uc in DEVICE_LACKS:
        assert not device.supports(result.message_code), f"{uc} is implemented now: take it off DEVICE_LACKS"
        return
    assert device.supports(result.message_code)
    device.receive(command)
    answers = [decode_message(m, dcc) for m in sent]
    responses = [a for a in answers if a.frame.signing.cra_flag == CRA_RESPONSE]
    assert len(responses) == 1, [a.frame.signing for a in answers]
    (resp,) = responses
    assert resp.frame.signing.message_code == result.message_code
    assert "verified" in (resp.verification.mac, resp.verification.signature)
    p = resp.payload
    if p["kind"] == "dlms":
        assert [s["result"] for s in p["access_response_specification"]] == \
            [0] * len(payload["access_request_specification"])
    elif p["kind"] == "gbz":
        for comp in p["components"]:
            body = comp["zcl"].get("payload") or {}
            if body.get("Status") == 0x8B and (comp["cluster_id"], body.get("CommandID")) in SNAPSHOT_READS:
                continue                  # a log entry asked for that the meter does not hold
            assert body.get("Status", 0) == 0, comp
