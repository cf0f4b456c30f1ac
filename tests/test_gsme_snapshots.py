"""The GSME's snapshot logs (emulator.devices.gbcs.snapshots): daily reads taken as the meter's
clock passes 09:00, billing data from the billing calendar, bounded; Get Snapshot / Get Prepay
Snapshot answered per period, cause and offset (offset 0 the oldest), NOT_FOUND past the end;
the replay staging from an RTDS response; a DUIS GCS16b request end to end."""

from __future__ import annotations

import random
from pathlib import Path

from emulator.clock import VirtualClock
from emulator.devices.gbcs import DEVICE_CLASSES, provision, snapshots
from emulator.devices.gbcs.provisioning import acb_eui
from emulator.rtds_replay import _read_hex
from protocols.gbcs import GbcsCrypto, decode_message
from protocols.gbcs.framing import CRA_RESPONSE, decode_frame
from protocols.gbcs.payloads import gbz

from tests.device_usecase_helpers import DEVICE_EUIS, START, command, home
from tests.gbcs_helpers import RTDS

DAY = 86400
T0 = int(START) - 946684800          # 2015-01-01T00:00:00Z in UTC seconds since 2000
METERING, PREPAYMENT = 0x0702, 0x0705
NOT_FOUND = 0x8B


def _reads(cluster: int, lo: int, hi: int, cause: int, offsets) -> dict:
    cmd = 6 if cluster == METERING else 7
    offsets = list(offsets)
    return {"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID, "components": [
        gbz.build_component(cluster, 0x01, i, cmd, {"EarliestStartTime": lo, "LatestEndTime": hi,
                                                    "SnapshotOffset": o, "SnapshotCause": cause},
                            last=i == len(offsets) - 1, from_date_time=None)
        for i, o in enumerate(offsets)]}


def _answer(h, code: int, payload: dict) -> list[tuple[int, dict, bool]]:
    """(command id, body, encrypted) of each component of the device's one response."""
    h.sent.clear()
    h.device.receive(command(h, code, payload))
    (resp,) = [m for m in (decode_message(x, h.dcc) for x in h.sent) if m.frame.signing.cra_flag == CRA_RESPONSE]
    assert resp.frame.signing.message_code == code
    out = []
    for c in resp.payload["components"]:
        z = c["zcl"]
        body = z.get("payload") or (z.get("ciphered_information") or {}).get("plaintext") or {}
        out.append((z["command_id"], body, bool(c.get("encrypted"))))
    return out


def test_daily_reads_are_taken_at_nine_as_time_passes_and_read_oldest_first():
    h = home("GSME")
    a = h.device.zcl.attributes
    a[(METERING, 0x0000)] = 10
    h.clock.advance(DAY + 10 * 3600)                 # 2 January 10:00: reads of 1 and 2 January due
    snapshots.catch_up(h.device)
    a[(METERING, 0x0000)] = 25                       # consumption after the 2 January read
    h.clock.advance(DAY)                             # 3 January 10:00
    got = _answer(h, 0x0077, _reads(METERING, T0, T0 + 10 * DAY, snapshots.GENERAL, range(4)))
    assert [c for c, _b, _e in got] == [6, 6, 6, 0x0B]
    times = [b["SnapshotTime"] for _c, b, _e in got[:3]]
    assert times == [T0 + 9 * 3600, T0 + DAY + 9 * 3600, T0 + 2 * DAY + 9 * 3600]      # oldest first
    assert [b["SnapshotPayload"]["CurrentSummation"] for _c, b, _e in got[:3]] == [10, 10, 25]
    assert all(b["SnapshotCause"] == 1 and b["TotalSnapshotsFound"] == 3 for _c, b, _e in got[:3])
    assert all(enc for _c, _b, enc in got[:3])       # consumption is sensitive: encrypted
    assert (got[3][1]["CommandID"], got[3][1]["Status"], got[3][2]) == (6, NOT_FOUND, False)
    # a period that starts after the first read: offset 0 is the oldest inside it
    got = _answer(h, 0x0077, _reads(METERING, T0 + DAY, T0 + 10 * DAY, snapshots.GENERAL, [0]))
    assert got[0][1]["SnapshotTime"] == T0 + DAY + 9 * 3600 and got[0][1]["TotalSnapshotsFound"] == 2


def test_cause_filter_and_prepayment_balances():
    h = home("GSME")
    d = h.device
    d.zcl.attributes[(PREPAYMENT, 0x0001)] = -126            # credit remaining
    d.zcl.attributes[(PREPAYMENT, 0x0005)] = 35              # accumulated debt
    d.zcl.attributes[(PREPAYMENT, 0x0221)] = 48              # debt 2 remaining
    billed = snapshots.take(d, snapshots.END_OF_BILLING_PERIOD)
    h.clock.advance(DAY)                                     # 2 January 00:00: the 1 January daily read
    payload = {"EarliestStartTime": 0, "LatestEndTime": 0xFFFFFFFF, "SnapshotOffset": 0}
    status, rcmd, body = snapshots.get_prepay_snapshot(d, dict(payload, SnapshotCause=2), {})
    assert (status, rcmd, body["SnapshotID"], body["SnapshotTime"]) == (0, 1, billed.snapshot_id, T0)
    assert body["SnapshotPayloadType"] == 0 and body["TotalSnapshotsFound"] == 1
    assert body["SnapshotPayload"] == {"AccumulatedDebt": 35, "Type1DebtRemaining": 0, "Type2DebtRemaining": 48,
                                       "Type3DebtRemaining": 0, "EmergencyCreditRemaining": 0,
                                       "CreditRemaining": -126}
    status, _r, body = snapshots.get_snapshot(d, dict(payload, SnapshotCause=1), {})
    assert status == 0 and body["SnapshotCause"] == 1 and body["SnapshotTime"] == T0 + 9 * 3600
    assert snapshots.get_snapshot(d, dict(payload, SnapshotCause=1, SnapshotOffset=1), {})[0] == NOT_FOUND
    # any cause: both, oldest first
    rows = [snapshots.get_snapshot(d, dict(payload, SnapshotCause=0xFFFFFFFF, SnapshotOffset=i), {})
            for i in range(3)]
    assert [r[2].get("SnapshotCause") for r in rows[:2]] == [2, 1] and rows[2][0] == NOT_FOUND
    # a cause neither has (change of tenancy)
    assert snapshots.get_snapshot(d, dict(payload, SnapshotCause=1 << 12), {})[0] == NOT_FOUND


def test_logs_are_bounded_oldest_dropped():
    h = home("GSME")
    for _ in range(snapshots.BILLING_LOG_CAPACITY + 2):
        snapshots.take(h.device, snapshots.END_OF_BILLING_PERIOD)
        h.clock.advance(3600)
    log = snapshots.snapshot_log(h.device)
    assert len(log.billing) == snapshots.BILLING_LOG_CAPACITY
    assert log.billing[0].time == T0 + 2 * 3600                       # the first two are gone
    h.clock.advance(900 * DAY)                                         # a meter left alone 900 days
    snapshots.catch_up(h.device)
    assert len(log.daily) == snapshots.DAILY_LOG_CAPACITY
    last = T0 + 900 * DAY + 9 * 3600                                   # the clock is past 09:00 that day
    assert log.daily[-1].time == last and log.daily[0].time == last - (snapshots.DAILY_LOG_CAPACITY - 1) * DAY


def test_billing_calendar_entry_is_in_the_billing_data_log():
    from emulator.devices.gbcs.events import billing
    h = home("GSME")
    h.device.zcl.attributes[(METERING, 0x0000)] = 77
    assert billing(h.device)                                           # raises GCS53 with the entry
    got = _answer(h, 0x0076, _reads(METERING, T0, T0 + DAY, snapshots.END_OF_BILLING_PERIOD, range(2)))
    assert got[0][0] == 6 and got[0][1]["SnapshotPayload"]["CurrentSummation"] == 77
    assert got[1][1]["Status"] == NOT_FOUND


def _rtds(name: str) -> tuple:
    folder = next(Path(RTDS).glob(f"*_{name.split('_')[0]}"))
    h = home("GSME")
    cmd = decode_message(_read_hex(folder / f"{name}_COMMAND_GBCS.HEX"), h.dcc)
    ref = decode_message(_read_hex(folder / f"{name}_RESPONSE_GBCS.HEX"), h.dcc)
    return h, cmd, ref


def _bodies(msg) -> list[tuple[int, int, dict]]:
    out = []
    for c in msg.payload["components"]:
        z = c["zcl"]
        out.append((c["cluster_id"], z["command_id"],
                    z.get("payload") or (z.get("ciphered_information") or {}).get("plaintext") or {}))
    return out


def test_staged_reference_log_answers_as_the_reference_meter():
    """GCS16a and GCS15c: the log staged from the RTDS response; the device's own reads then
    answer every offset as the reference GSME did (times by value, oldest first)."""
    for name in ("GCS16a_4.6.1_SUCCESS", "GCS15c_4.4.3_SUCCESS"):
        h, cmd, ref = _rtds(name)
        h.device.stage_history(cmd.frame, cmd.payload, ref.payload)
        h.sent.clear()
        h.device.receive(_read_hex(next(Path(RTDS).glob(f"*_{name.split('_')[0]}")) / f"{name}_COMMAND_GBCS.HEX"))
        (resp,) = [decode_message(m, h.dcc) for m in h.sent]
        want, got = _bodies(ref), _bodies(resp)
        assert [(c, k) for c, k, _b in got] == [(c, k) for c, k, _b in want], name
        for (_c, k, a), (_c2, _k2, b) in zip(want, got):
            if k == 0x0B:
                assert (a["CommandID"], a["Status"]) == (b["CommandID"], b["Status"])
            else:
                assert (b["SnapshotTime"], b["SnapshotCause"], b["SnapshotPayload"]) == \
                    (a["SnapshotTime"], a["SnapshotCause"], a["SnapshotPayload"]), name


def test_duis_gcs16b_reaches_the_meter_and_reads_its_prepayment_daily_log():
    """DUIS RetrievePrepaymentDailyReadLog (GCS16b) through the ACB transform to a GSME in
    service since 28 December: the reads of 30 and 31 December are in the period (30 December
    00:00:04 .. 1 January 00:00:03), every further offset is NOT_FOUND."""
    from protocols.acb import Transformer
    from tests.acb_helpers import FixedClock, request_from_template
    path = Path(__file__).resolve().parent / "data" / "duis" / "GCS16b_4.14_SUCCESS_REQUEST_DUIS.XML"
    h = home("GSME")
    t = Transformer(h.dcc, FixedClock(), acb_counter=lambda: 5_000_000)
    raw = t.transform(request_from_template(path)).command
    clock = VirtualClock(START - 4 * DAY)
    sent: list[bytes] = []
    gsme = provision(DEVICE_CLASSES["GSME"], DEVICE_EUIS["GSME"], h.keys, clock, sent.append, rng=random.Random(1))
    gsme.zcl.attributes[(PREPAYMENT, 0x0001)] = 500
    clock.advance(4 * DAY)
    assert gsme.supports(decode_frame(raw).signing.message_code)
    gsme.receive(raw)
    (resp,) = [decode_message(m, GbcsCrypto(h.keys, acb_eui(h.keys))) for m in sent]
    got = _bodies(resp)
    assert len(got) == 31
    assert [(c, k) for c, k, _b in got[:2]] == [(PREPAYMENT, 1)] * 2
    assert [b["SnapshotTime"] for _c, _k, b in got[:2]] == [T0 - 2 * DAY + 9 * 3600, T0 - DAY + 9 * 3600]
    assert all(b["SnapshotPayload"]["CreditRemaining"] == 500 for _c, _k, b in got[:2])
    assert all((k, b["Status"]) == (0x0B, NOT_FOUND) for _c, k, b in got[2:])
