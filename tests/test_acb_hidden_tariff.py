"""ECS01a (SRV 1.1.1, Update Import Tariff, primary element): RTDS keeps its folder out of shared/.

The DUIS requests in tests/data/duis are ours, in the form of the shared 1.1.2 / 1.2.1
templates (TOU, block, TOU + block, future dated, cancellation).  Without a reference command
the transform's output is checked the strongest ways left: the command decodes with our GBCS
codec, has message code 0x0019, carries the payload catalogue's items in the catalogue's order,
its signed form verifies with the RTDS keys, and an emulated ESME accepts it and applies it: a
later ECS24 read (the shared ECS24 template) returns the calendar, special days, thresholds,
currency, standing charge and prices that were sent.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from emulator.acb_cli import main as acb_cli
from emulator.clock import VirtualClock
from emulator.devices.gbcs import Esme, Gsme, provision
from emulator.devices.gbcs.provisioning import acb_eui
from protocols.acb import INVALID, RequestError, Transformer
from protocols.acb.dlms_items import catalogue_items
from protocols.gbcs import GbcsCrypto, KeyStore, decode_frame, decode_message, sign_precommand
from protocols.gbcs.framing import CRA_ALERT, CRA_RESPONSE

from .acb_helpers import KEYSTORE, RTDS_NOW, TEMPLATES, FixedClock, need_shared, request_from_template

DATA = Path(__file__).resolve().parent / "data" / "duis"
ESME = 0x00DB1234567890A0
ECS01A = 0x0019
FILES = sorted(DATA.glob("ECS01a_1.1.1_*_REQUEST_DUIS.XML"))
NEVER = "FFFFFFFFFFFFFFFFFF8000FF"
NOW = "0000000000000000008000FF"


@pytest.fixture(scope="module")
def keys() -> KeyStore:
    return KeyStore(need_shared(KEYSTORE))


@pytest.fixture(scope="module")
def crypto(keys) -> GbcsCrypto:
    return GbcsCrypto(keys)


def _command(crypto: GbcsCrypto, path: Path, counter: int | None = None) -> tuple[bytes, object]:
    """The MACed command the DCC sends for a request file (critical: pre-command signed as the
    user would, then completed)."""
    request = request_from_template(path)
    if counter is not None:
        request = dataclasses.replace(request, counter=counter)
    t = Transformer(crypto, FixedClock())
    result = t.transform(request)
    if result.critical:
        return t.complete(result, sign_precommand(result.precommand, crypto)), result
    return result.command, result


def _plain(node):
    """A Data tree without the codec's bookkeeping: (type, value) nests."""
    if isinstance(node, dict):
        v = node.get("value")
        if isinstance(v, list):
            return node["type"], [_plain(x) for x in v]
        return node["type"], v
    return node


def test_the_data_set_is_there():
    assert len(FILES) == 5, FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.split("_1.1.1_")[1].replace("_REQUEST_DUIS.XML", ""))
def test_ecs01a_command_decodes_with_the_catalogue_items_in_order(path, crypto):
    command, result = _command(crypto, path)
    assert result.use_case == "ECS01a" and result.message_code == ECS01A and result.critical
    pre = decode_frame(result.precommand).signing
    assert pre.message_code == ECS01A and pre.signature is None and pre.recipient == ESME
    msg = decode_message(command, crypto)
    assert msg.verification.mac == "verified" and msg.verification.signature == "verified"
    assert msg.frame.signing.message_code == ECS01A
    specs = msg.payload["access_request_specification"]
    (expected,) = catalogue_items(ECS01A)
    assert [(s["choice"], s["class_id"], s["obis"], s["attribute_id"]) for s in specs] == \
        [("access-request-set", it.class_id, it.obis, it.item_id) for it in expected]
    data = msg.payload["access_request_list_of_data"]
    times = {d["value"] for s, d in zip(specs, data) if (s["class_id"], s["attribute_id"]) in
             ((20, 10), (113, 7), (9000, 6))}
    kind = path.name.split("_")[2]
    assert times == {{"IMMEDIATE": NOW, "CANCELLATION": NEVER}.get(kind, "07EE010FFF090000008000FF")}


def _read_tariff(device, sent, crypto, counter: int) -> list:
    """ECS24 (the shared template, counter moved on) to the ESME; the data it answers."""
    command, result = _command(crypto, need_shared(TEMPLATES / "ECS24_4.11.1_SUCCESS_REQUEST_DUIS.XML"), counter)
    sent.clear()
    device.receive(command)
    (resp,) = [decode_message(m, crypto) for m in sent]
    assert resp.frame.signing.cra_flag == CRA_RESPONSE
    assert [s["result"] for s in resp.payload["access_response_specification"]] == [0] * 17
    return [_plain(d) for d in resp.payload["access_response_list_of_data"]]


@pytest.fixture
def esme(keys):
    clock = VirtualClock(RTDS_NOW)
    sent: list[bytes] = []
    device = provision(Esme, ESME, keys, clock, sent.append, rng=random.Random(3))
    return device, sent, GbcsCrypto(keys, acb_eui(keys))


def _apply(device, sent, crypto, path: Path) -> None:
    command, _ = _command(crypto, path)
    sent.clear()
    device.receive(command)
    (resp,) = [decode_message(m, crypto) for m in sent]
    assert resp.frame.signing.cra_flag == CRA_RESPONSE and resp.frame.signing.message_code == ECS01A
    assert [s["result"] for s in resp.payload["access_response_specification"]] == [0] * 21


def _sent_values(crypto, path: Path) -> dict:
    command, _ = _command(crypto, path)
    p = decode_message(command, crypto).payload
    return {(s["class_id"], s["obis"], s["attribute_id"]): _plain(d)
            for s, d in zip(p["access_request_specification"], p["access_request_list_of_data"])}


def _assert_read_back(read: list, sent_values: dict) -> None:
    cal = "0-0:13.0.0.255"
    assert read[2] == sent_values[(20, cal, 7)]          # seasons
    assert read[3] == sent_values[(20, cal, 8)]          # week profiles
    assert read[4] == sent_values[(20, cal, 9)]          # day profiles
    assert read[5] == sent_values[(11, "0-1:11.0.0.255", 2)]   # special days
    for i in range(8):                                   # block thresholds of TOU rates 1-8
        assert read[6 + i] == sent_values[(21, f"0-0:16.1.{11 + i}.255", 2)]
    assert read[14] == sent_values[(9000, "0-0:94.44.2.0", 4)]  # currency
    assert read[15] == sent_values[(113, "0-0:19.20.4.255", 6)]  # standing charge
    assert read[16] == sent_values[(113, "0-0:19.20.0.255", 6)]  # price matrix


@pytest.mark.parametrize("kind", ["TOU", "BLOCK", "TOU_BLOCK"])
def test_esme_applies_the_tariff_and_ecs24_reads_it_back(esme, crypto, kind):
    device, sent, dcc = esme
    path = DATA / f"ECS01a_1.1.1_IMMEDIATE_{kind}_SUCCESS_REQUEST_DUIS.XML"
    _apply(device, sent, dcc, path)
    read = _read_tariff(device, sent, dcc, 5000)
    values = _sent_values(crypto, path)
    _assert_read_back(read, values)
    # what the file says, in the device's words
    matrix = dict((k[1], v[1]) for _t, (k, v) in read[16][1][2][1])
    if kind == "TOU":
        assert matrix["01"] == 1520 and matrix["03"] == 1805 and read[5][1][1][1][1] == ("octet-string", "FFFF0C19FF")
        assert read[6][1] == [("double-long-unsigned", 0xFFFFFFFF)] * 3
    if kind == "BLOCK":
        assert matrix["A1"] == 3289 and matrix["D1"] == 6100 and matrix["B2"] == 2900
        assert [v for _t, v in read[6][1]] == [1000, 2000, 3000]
        assert [v for _t, v in read[7][1]] == [1500, 0xFFFFFFFF, 0xFFFFFFFF]
        scripts = [a[1][2][1] for a in read[4][1][0][1][1][1]]
        assert scripts == [101, 102]
    if kind == "TOU_BLOCK":
        assert [s[1][0][1] for s in read[2][1]] == ["77696E746572", "73756D6D6572"]   # winter, summer
        scripts = [a[1][2][1] for a in read[4][1][0][1][1][1]]
        assert scripts == [101, 102, 1, 102]
    assert read[14] == ("boolean", True)                 # GBP


def test_future_dated_tariff_activates_at_its_time_with_six_alerts(esme, crypto):
    device, sent, dcc = esme
    before = _read_tariff(device, sent, dcc, 900)
    path = DATA / "ECS01a_1.1.1_FUTURE_DATED_TOU_BLOCK_SUCCESS_REQUEST_DUIS.XML"
    _apply(device, sent, dcc, path)
    assert _read_tariff(device, sent, dcc, 5000) == before, "nothing is active before the execution time"
    sent.clear()
    device.clock.run_until(1894698000.0)                 # 2030-01-15T09:00:00Z
    alerts = [decode_message(m, dcc) for m in sent]
    assert len(alerts) == 6
    for a in alerts:
        assert a.frame.signing.cra_flag == CRA_ALERT and a.frame.signing.message_code == 0x00CC
        assert a.payload["alert"]["alert_code"] == 0x8F66
        assert a.payload["alert"]["future_dated"]["originator_counter"] == 1004
    _assert_read_back(_read_tariff(device, sent, dcc, 6000), _sent_values(crypto, path))


def test_cancellation_leaves_the_active_tariff_alone(esme, crypto):
    device, sent, dcc = esme
    _apply(device, sent, dcc, DATA / "ECS01a_1.1.1_FUTURE_DATED_TOU_BLOCK_SUCCESS_REQUEST_DUIS.XML")
    _apply(device, sent, dcc, DATA / "ECS01a_1.1.1_CANCELLATION_TOU_BLOCK_SUCCESS_REQUEST_DUIS.XML")
    before = _read_tariff(device, sent, dcc, 5000)
    sent.clear()
    device.clock.run_until(1894698000.0 + 3600)
    assert sent == []
    assert _read_tariff(device, sent, dcc, 6000) == before


@pytest.mark.parametrize("old, new, element", [
    ("<sr:CurrencyUnits>GBP<", "<sr:CurrencyUnits>USD<", "CurrencyUnits"),
    ("<sr:TOUTariffAction>01</sr:TOUTariffAction>",
     "<sr:TOUTariffAction>01</sr:TOUTariffAction><sr:BlockTariffAction>01</sr:BlockTariffAction>", "ProfileSchedule"),
    ("<sr:TOUTariffAction>02<", "<sr:TOUTariffAction>49<", "TOUTariffAction"),
    ('<sr:TOUPrice index="1">', '<sr:TOUPrice index="49">', "TOUPrice"),
    ("<sr:SwitchingTable>", "<sr:SwitchingTableX>", "SwitchingTable"),
])
def test_bad_tariff_requests_name_the_element(tmp_path, crypto, old, new, element):
    text = (DATA / "ECS01a_1.1.1_IMMEDIATE_TOU_SUCCESS_REQUEST_DUIS.XML").read_text()
    assert old in text
    text = text.replace(old, new, 1)
    if element == "SwitchingTable":
        text = text.replace("</sr:SwitchingTable>", "</sr:SwitchingTableX>")
    bad = tmp_path / "ECS01a_1.1.1_BAD_REQUEST_DUIS.XML"
    bad.write_text(text)
    with pytest.raises(RequestError) as e:
        Transformer(crypto, FixedClock()).transform(request_from_template(bad))
    assert e.value.code == INVALID and element in str(e.value)


def test_cli_prints_the_precommand(capsys):
    path = DATA / "ECS01a_1.1.1_IMMEDIATE_TOU_BLOCK_SUCCESS_REQUEST_DUIS.XML"
    rc = acb_cli([str(path), "--device-type", "ESME", "--keys", str(need_shared(KEYSTORE))])
    out, err = capsys.readouterr()
    assert rc == 0, err
    gs = decode_frame(bytes.fromhex(out.strip())).signing
    assert gs.message_code == ECS01A and "ECS01a" in err and "pre-command" in err


# --------------------------------------------------------------------------- GCS01a (gas, GBZ)

GSME = 0x00DB1234567890A1
GCS01A = 0x006B
GAS_FILES = sorted(DATA.glob("GCS01a_1.1.1_*_REQUEST_DUIS.XML"))


def _catalogue_gbz_shapes(code: int) -> list[list[tuple[int, int, int]]]:
    """The payload catalogue's GBZ component lists of a message code, runs of the same
    component collapsed (how many day / week profiles a tariff has is the tariff's business)."""
    import csv
    import re
    from protocols.gbcs import catalogue
    path = Path(catalogue.__file__).resolve().parent / "data" / "payload_catalogue.tsv"
    item = re.compile(r"GBZ ctl[0-9A-F]{2} cl([0-9A-F]{4}) fc([0-9A-F]{2}) cmd(\d+)", re.I)
    shapes = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if row and row[0].upper() == f"{code:04X}":
                items = [(int(c, 16), int(fc, 16), int(n)) for c, fc, n in item.findall(row[2])]
                shapes.append([x for i, x in enumerate(items) if i == 0 or items[i - 1] != x])
    return shapes


@pytest.mark.parametrize("path", GAS_FILES, ids=lambda p: p.name.split("_1.1.1_")[1].replace("_REQUEST_DUIS.XML", ""))
def test_gcs01a_command_decodes_with_a_catalogue_component_layout(path, crypto):
    command, result = _command(crypto, path)
    assert result.use_case == "GCS01a" and result.message_code == GCS01A and result.critical
    msg = decode_message(command, crypto)
    assert msg.verification.mac == "verified" and msg.verification.signature == "verified"
    assert msg.frame.signing.message_code == GCS01A and msg.frame.signing.recipient == GSME
    comps = msg.payload["components"]
    items = [(c["cluster_id"], c["zcl"]["frame_control"], c["zcl"]["command_id"]) for c in comps]
    collapsed = [x for i, x in enumerate(items) if i == 0 or items[i - 1] != x]
    assert collapsed in _catalogue_gbz_shapes(GCS01A)
    assert [c["extended_header_control"] & 1 for c in comps] == [0] * (len(comps) - 1) + [1]
    kind = path.name.split("_")[2]
    start = {"IMMEDIATE": 0, "CANCELLATION": 0xFFFFFFFE}.get(kind, 948013200)   # 2030-01-15T09:00Z
    calendar = comps[0]["zcl"]["payload"]
    assert calendar["StartTime"] == start and calendar["CalendarType"] == 0


@pytest.mark.parametrize("kind", ["TOU", "BLOCK"])
def test_gsme_takes_the_tariff_and_gcs21f_reads_the_calendar_back(keys, crypto, kind):
    sent: list[bytes] = []
    gsme = provision(Gsme, GSME, keys, VirtualClock(RTDS_NOW), sent.append, rng=random.Random(4))
    dcc = GbcsCrypto(keys, acb_eui(keys))
    path = DATA / f"GCS01a_1.1.1_IMMEDIATE_{kind}_SUCCESS_REQUEST_DUIS.XML"
    command, _ = _command(dcc, path)
    gsme.receive(command)
    (resp,) = [decode_message(m, dcc) for m in sent]
    assert resp.frame.signing.cra_flag == CRA_RESPONSE and resp.frame.signing.message_code == GCS01A
    published = decode_message(command, dcc).payload["components"]
    assert [c["zcl"]["payload"]["Status"] for c in resp.payload["components"]] == [0] * len(published)
    read, _ = _command(dcc, need_shared(TEMPLATES / "GCS21f_4.11.1_SUCCESS_REQUEST_DUIS.XML"), 5000)
    sent.clear()
    gsme.receive(read)
    (answer,) = [decode_message(m, dcc) for m in sent]

    def calendar(components, command_id):
        return [{k: v for k, v in c["zcl"]["payload"].items() if k != "CalendarTypeName"}
                for c in components if c["cluster_id"] == 0x0707 and c["zcl"]["command_id"] == command_id]

    for command_id in (1, 2, 3, 4):                       # day / week profiles, seasons, special days
        assert calendar(answer.payload["components"], command_id) == calendar(published, command_id)
    tiers = [e["PriceTier"] for d in calendar(published, 1) for e in d["DayScheduleEntries"]["Entries"]]
    assert set(tiers) == ({2, 3, 1} if kind == "TOU" else {0})


def test_gas_block_thresholds_must_match_their_count(tmp_path, crypto):
    text = (DATA / "GCS01a_1.1.1_IMMEDIATE_BLOCK_SUCCESS_REQUEST_DUIS.XML").read_text()
    bad = tmp_path / "GCS01a_1.1.1_BAD_REQUEST_DUIS.XML"
    bad.write_text(text.replace("<sr:NumberOfThresholds>3<", "<sr:NumberOfThresholds>2<"))
    with pytest.raises(RequestError) as e:
        Transformer(crypto, FixedClock()).transform(request_from_template(bad))
    assert e.value.code == INVALID and "NumberOfThresholds" in str(e.value)
