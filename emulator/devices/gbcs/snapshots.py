"""The GSME's snapshot logs (ZSE Metering / Prepayment snapshots) and the GBZ reads of them.

GBCS reads the gas meter's Billing Data Log (GCS15b, GCS15c) and Daily Read Log(s) (GCS16a,
GCS16b) with one ZSE Get Snapshot (Metering 0x06) or Get Prepay Snapshot (Prepayment 0x07) per
log entry: each names a period (EarliestStartTime .. LatestEndTime, UTC seconds since 2000), a
SnapshotCause and a SnapshotOffset.  The meter answers each with one Publish Snapshot /
Publish Prepay Snapshot (encrypted for the supplier: consumption and balances are sensitive),
or a Default Response NOT_FOUND when the offset is past the snapshots that match.

  - A snapshot (L{Snapshot}) is what the meter captured at one time for one cause: its Metering
    registers (payload type 6, "block tier information set delivered (no billing)": current
    summation, the TOU tier summations, the block summations) and its Prepayment balances
    (payload type 0, "debt/credit status").  A cluster's payload may be missing (a snapshot
    only known from one cluster's publication).
  - Causes (ZSE SnapshotCause bits): L{GENERAL} (0x01) is the daily read, taken every day at
    L{DAILY_READ_TIME} (09:00 UTC, the reference GSMEs' setting); L{END_OF_BILLING_PERIOD}
    (0x02) is the billing calendar's (L{emulator.devices.gbcs.events.billing}); other causes
    (change of tariff, of mode...) are kept with the billing data.
  - Capacity: the Daily Read Log keeps L{DAILY_LOG_CAPACITY} (731: two years of days, SMETS2)
    entries, the Billing Data Log L{BILLING_LOG_CAPACITY} (12, SMETS2; GCS15c asks offsets
    0..11); the oldest entry goes first.
  - Daily reads are taken as the device's clock passes 09:00.  Nothing but the commands the
    meter executes changes its registers, so the meter brings its log up to date (L{catch_up})
    before it executes anything and before it reads the log: each due entry holds the registers
    of its time, and no timer per meter is pending.
  - A read selects the snapshots in the period whose cause has a bit of the asked cause
    (0xFFFFFFFF: any), oldest first: offset 0 is the oldest (as the RTDS reference GSMEs answer).
    TotalSnapshotsFound is how many matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocols.zcl.types import ZCL_EPOCH_UNIX

__all__ = ["Snapshot", "SnapshotLog", "snapshot_log", "catch_up", "take", "get_snapshot", "get_prepay_snapshot",
           "stage_history", "prepare", "forget", "GENERAL", "END_OF_BILLING_PERIOD", "DAILY_READ_TIME",
           "DAILY_LOG_CAPACITY", "BILLING_LOG_CAPACITY", "METERING", "PREPAYMENT"]

METERING, PREPAYMENT = 0x0702, 0x0705
#: ZSE SnapshotCause bits
GENERAL, END_OF_BILLING_PERIOD = 0x00000001, 0x00000002
ANY_CAUSE = 0xFFFFFFFF
#: seconds after midnight UTC the daily read is taken
DAILY_READ_TIME = 9 * 3600
DAILY_LOG_CAPACITY, BILLING_LOG_CAPACITY = 731, 12
#: Publish Snapshot payload type: block tier information set delivered (no billing);
#: Publish Prepay Snapshot payload type: debt/credit status
METERING_PAYLOAD_TYPE, PREPAY_PAYLOAD_TYPE = 6, 0
_TIERS, _BLOCKS = 4, 4
_DAY = 86400
ZCL_SUCCESS, ZCL_NOT_FOUND = 0x00, 0x8B
#: (cluster, command) of the snapshot reads: Get Snapshot, Get Prepay Snapshot (client to server)
_READS = frozenset({(METERING, 6), (PREPAYMENT, 7)})
#: (cluster, command) of their answers -> cluster: Publish Snapshot, Publish Prepay Snapshot
_PUBLISHES = {(METERING, 6): METERING, (PREPAYMENT, 1): PREPAYMENT}


@dataclass(slots=True)
class Snapshot:
    snapshot_id: int
    #: UTC seconds since 2000
    time: int
    cause: int
    #: cluster -> (SnapshotPayloadType, SnapshotPayload)
    payloads: dict[int, tuple[int, dict]] = field(default_factory=dict)


@dataclass(slots=True)
class SnapshotLog:
    #: daily reads (cause GENERAL) and billing data (every other cause), each oldest first
    daily: list[Snapshot] = field(default_factory=list)
    billing: list[Snapshot] = field(default_factory=list)
    next_id: int = 0
    #: the last daily read time considered (UTC seconds since 2000); None = not started
    daily_done: int | None = None


def snapshot_log(device: Any) -> SnapshotLog:
    log = getattr(device, "snapshot_log", None)
    if log is None:
        log = device.snapshot_log = SnapshotLog()
    return log


def _now2000(device: Any) -> int:
    return int(device.now()) - ZCL_EPOCH_UNIX


def _attr(device: Any, cluster: int, attr: int) -> int:
    _status, _type, value = device.zcl.read(cluster, attr)
    return int(value or 0)


def _capture(device: Any) -> dict[int, tuple[int, dict]]:
    """The payloads of a snapshot taken now, from the meter's Metering and Prepayment registers."""
    def m(a: int) -> int:
        return _attr(device, METERING, a)

    def p(a: int) -> int:
        return _attr(device, PREPAYMENT, a)
    return {
        METERING: (METERING_PAYLOAD_TYPE, {
            "CurrentSummation": m(0x0000), "NumberofTiersInUse": _TIERS,
            "TierSummation": [m(0x0100 + 2 * i) for i in range(_TIERS)],
            "NumberofTiersAndBlockThresholdsInUse": (1 << 4) | _BLOCKS,
            "TierBlockSummation": [m(0x0700 + i) for i in range(_BLOCKS)]}),
        PREPAYMENT: (PREPAY_PAYLOAD_TYPE, {
            "AccumulatedDebt": p(0x0005), "Type1DebtRemaining": p(0x0211), "Type2DebtRemaining": p(0x0221),
            "Type3DebtRemaining": p(0x0231), "EmergencyCreditRemaining": p(0x0002), "CreditRemaining": p(0x0001)}),
    }


def _store(log: SnapshotLog, snap: Snapshot) -> None:
    entries, capacity = (log.daily, DAILY_LOG_CAPACITY) if snap.cause == GENERAL else \
        (log.billing, BILLING_LOG_CAPACITY)
    i = len(entries)
    while i and entries[i - 1].time > snap.time:
        i -= 1
    entries.insert(i, snap)
    del entries[:max(len(entries) - capacity, 0)]


def _new(log: SnapshotLog, time: int, cause: int, payloads: dict) -> Snapshot:
    snap = Snapshot(log.next_id, time, cause, payloads)
    log.next_id = (log.next_id + 1) & 0xFFFFFFFF
    _store(log, snap)
    return snap


def catch_up(device: Any) -> None:
    """Take the daily reads that fell due since the last one (see the module docstring).  A
    device type with no daily read log (C{daily_read_time} None) takes none."""
    at = getattr(device, "daily_read_time", None)
    if at is None:
        return
    log = snapshot_log(device)
    now = _now2000(device)
    if log.daily_done is None:
        log.daily_done = now               # the log starts when the meter does
        return
    first = (log.daily_done - at) // _DAY * _DAY + _DAY + at      # the next read after daily_done
    if first > now:
        return
    last = (now - at) // _DAY * _DAY + at
    first = max(first, last - (DAILY_LOG_CAPACITY - 1) * _DAY)     # older ones would be dropped
    payloads = _capture(device)          # nothing changed the registers since daily_done
    for t in range(first, last + 1, _DAY):
        _new(log, t, GENERAL, {c: (k, dict(v)) for c, (k, v) in payloads.items()})
    log.daily_done = now


def take(device: Any, cause: int) -> Snapshot:
    """The meter takes a snapshot now for C{cause} (e.g. the billing calendar came due)."""
    catch_up(device)
    return _new(snapshot_log(device), _now2000(device), cause, _capture(device))


def publication(snap: Snapshot, cluster: int, found: int = 1) -> dict:
    """The Publish Snapshot / Publish Prepay Snapshot payload of one snapshot."""
    kind, payload = snap.payloads[cluster]
    return {"SnapshotID": snap.snapshot_id, "SnapshotTime": snap.time, "TotalSnapshotsFound": min(found, 0xFF),
            "CommandIndex": 0, "TotalNumberofCommands": 1, "SnapshotCause": snap.cause,
            "SnapshotPayloadType": kind, "SnapshotPayload": dict(payload)}


def _matching(device: Any, cluster: int, payload: dict) -> list[Snapshot]:
    log = snapshot_log(device)
    lo = int(payload.get("EarliestStartTime", 0))
    hi = int(payload.get("LatestEndTime", 0xFFFFFFFF))
    cause = int(payload.get("SnapshotCause", ANY_CAUSE))
    rows = [s for s in log.daily + log.billing
            if cluster in s.payloads and lo <= s.time <= hi and (cause == ANY_CAUSE or s.cause & cause)]
    rows.sort(key=lambda s: (s.time, s.snapshot_id))
    return rows


def _read(device: Any, cluster: int, response: int, payload: dict) -> tuple[int, int, dict]:
    catch_up(device)
    rows = _matching(device, cluster, payload)
    offset = int(payload.get("SnapshotOffset", 0))
    if offset >= len(rows):
        return ZCL_NOT_FOUND, response, {}
    return ZCL_SUCCESS, response, publication(rows[offset], cluster, len(rows))


def get_snapshot(device: Any, payload: dict, comp: dict) -> tuple[int, int, dict]:
    """Metering Get Snapshot -> Publish Snapshot, or NOT_FOUND."""
    return _read(device, METERING, 6, payload)


def get_prepay_snapshot(device: Any, payload: dict, comp: dict) -> tuple[int, int, dict]:
    """Prepayment Get Prepay Snapshot -> Publish Prepay Snapshot, or NOT_FOUND."""
    return _read(device, PREPAYMENT, 1, payload)


def _body(comp: dict) -> dict:
    z = comp.get("zcl") or {}
    return z.get("payload") or (z.get("ciphered_information") or {}).get("plaintext") or {}


def _reads(command: dict):
    for comp in command.get("components") or []:
        z = comp.get("zcl") or {}
        key = (comp.get("cluster_id"), z.get("command_id"))
        if key in _READS and not z.get("frame_control", 0) & 0x08:
            yield key[0], z.get("payload") or {}


def stage_history(device: Any, command: dict, response: dict) -> None:
    """The meter holds the snapshots a meter published in C{response} to the reads of
    C{command} (its log before the command: their ids, times, causes and payloads)."""
    if not any(True for _ in _reads(command)):
        return
    log = snapshot_log(device)
    by_key = {(s.time, s.cause): s for s in log.daily + log.billing}
    for comp in response.get("components") or []:
        z = comp.get("zcl") or {}
        cluster = _PUBLISHES.get((comp.get("cluster_id"), z.get("command_id")))
        if cluster is None or not z.get("frame_control", 0) & 0x08:
            continue
        body = _body(comp)
        try:
            time, cause = int(body["SnapshotTime"]), int(body["SnapshotCause"])
            kind, payload = int(body["SnapshotPayloadType"]), dict(body.get("SnapshotPayload") or {})
        except (KeyError, TypeError, ValueError):
            continue
        snap = by_key.get((time, cause))
        if snap is None:
            snap = by_key[(time, cause)] = Snapshot(int(body.get("SnapshotID", log.next_id)) & 0xFFFFFFFF, time, cause)
            log.next_id = max(log.next_id, snap.snapshot_id + 1) & 0xFFFFFFFF
            _store(log, snap)
        snap.payloads[cluster] = (kind, payload)


def prepare(device: Any, command: dict) -> None:
    """A log the command reads has an entry in the period and of the cause it reads (a meter in
    service), unless it holds one already."""
    for cluster, p in _reads(command):
        if _matching(device, cluster, p):
            continue
        lo = int(p.get("EarliestStartTime", 0))
        hi = int(p.get("LatestEndTime", 0xFFFFFFFF))
        cause = int(p.get("SnapshotCause", ANY_CAUSE))
        bit = GENERAL if cause & GENERAL or cause == 0 else cause & -cause      # its lowest cause bit
        now = _now2000(device)
        _new(snapshot_log(device), min(max(now, lo), hi), bit, _capture(device))


def forget(device: Any, command: dict) -> None:
    """The logs the command reads hold nothing (a meter that has taken no snapshot yet)."""
    if any(True for _ in _reads(command)):
        log = snapshot_log(device)
        log.daily.clear()
        log.billing.clear()
        log.daily_done = _now2000(device)
