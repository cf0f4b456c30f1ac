"""The GSME's event and sampling logs and the GBZ use cases that read or start them.

  - **Events** (ZSE Events cluster; CS10a the GBCS event log, log id 6, CS10b the security
    log, log id 7): L{record_event} adds an event; GetEventLog answers PublishEventLog with
    the newest events first (from EventOffset, at most NumberofEvents, 0 = all) between
    StartTime and EndTime, or NOT_FOUND.  Every security event the device records (rejected
    commands, GbcsDevice.log_security_event) is in log 7.
  - **Sampling** (GCS31 start network data log: Metering StartSampling; GCS18 reads it with
    GetSampledData): from StartSamplingTime (0 = now) the meter samples its consumption every
    SampleRequestInterval seconds, MaxNumberofSamples times (each sample the volume since the
    previous one), and answers StartSamplingResponse with the new SampleID.
  - **Snapshots** (GCS15b/c, GCS16a/b: Metering GetSnapshot, Prepayment GetPrepaySnapshot):
    the billing data and daily read logs of L{emulator.devices.gbcs.snapshots}.
  - GCS11, disable privacy PIN protection (Device Management RequestNewPasswordResponse
    published to the meter): kept with the other published commands and acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocols.zcl.types import ZCL_EPOCH_UNIX

from emulator.devices.gbcs import snapshots

__all__ = ["GbzLogs", "logs", "record_event", "EVENT_LOG", "SECURITY_LOG", "COMMAND_HANDLERS"]

METERING, PREPAYMENT, DEVICE_MANAGEMENT, EVENTS = 0x0702, 0x0705, 0x0708, 0x0709
EVENT_LOG, SECURITY_LOG = 6, 7
ZCL_SUCCESS, ZCL_NOT_FOUND = 0x00, 0x8B


@dataclass(slots=True)
class GbzLogs:
    #: log id -> [(event id, time since 2000, data hex)], oldest first
    events: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)
    next_sample_id: int = 1
    sampling: Any = None


def logs(device: Any) -> GbzLogs:
    state = getattr(device, "gbz_logs", None)
    if state is None:
        state = device.gbz_logs = GbzLogs()
    return state


def _now2000(device: Any) -> int:
    return int(device.now()) - ZCL_EPOCH_UNIX


def record_event(device: Any, log_id: int, event_id: int, data: bytes = b"") -> None:
    """Add an event to one of the meter's logs (6 event log, 7 security log)."""
    logs(device).events.setdefault(log_id, []).append((event_id & 0xFFFF, _now2000(device), data.hex().upper()))


def _get_event_log(device: Any, payload: dict, comp: dict) -> tuple[int, int, dict]:
    log_id = int(payload.get("EventControlLogID", 0)) & 0x0F
    wanted_event = int(payload.get("EventID", 0))
    lo, hi = int(payload.get("StartTime", 0)), int(payload.get("EndTime", 0xFFFFFFFF)) or 0xFFFFFFFF
    rows = [(lid, e, t, d) for lid, entries in sorted(logs(device).events.items()) if log_id in (0, lid)
            for e, t, d in entries if lo <= t <= hi and wanted_event in (0, e)]
    rows.sort(key=lambda r: r[2], reverse=True)
    rows = rows[int(payload.get("EventOffset", 0)):]
    if payload.get("NumberofEvents"):
        rows = rows[:int(payload["NumberofEvents"])]
    if not rows:
        return ZCL_NOT_FOUND, 1, {}
    return ZCL_SUCCESS, 1, {"TotalNumberofMatchingEvents": len(rows), "CommandIndex": 0, "TotalCommands": 1,
                            "NumberofEventsLogPayloadControl": len(rows) << 4,
                            "LogPayload": [{"LogID": lid, "EventID": e, "EventTime": t, "EventData": d}
                                           for lid, e, t, d in rows]}


def _start_sampling(device: Any, payload: dict, comp: dict) -> tuple[int, int, dict]:
    state = logs(device)
    sample_id = state.next_sample_id
    state.next_sample_id += 1
    interval = max(int(payload.get("SampleRequestInterval", 0)) or 1800, 1)
    count = int(payload.get("MaxNumberofSamples", 0)) or 48
    start = int(payload.get("StartSamplingTime", 0)) or _now2000(device)
    if state.sampling is not None and state.sampling.active():
        state.sampling.cancel()
    series: tuple[int, int, list[int]] = (start, interval, [])
    device.zcl.samples.append(series)
    first = max(start - _now2000(device), 0) + interval
    last = [int(device.zcl.attributes.get((METERING, 0x0000), 0))]

    def sample(remaining: int) -> None:
        now = int(device.zcl.attributes.get((METERING, 0x0000), 0))
        series[2].append(max(now - last[0], 0))
        last[0] = now
        state.sampling = device.clock.callLater(interval, sample, remaining - 1) if remaining > 1 else None
    state.sampling = device.clock.callLater(first, sample, count)
    return ZCL_SUCCESS, 13, {"SampleID": sample_id}


def _published(device: Any, payload: dict, comp: dict) -> None:
    return None       # stored by the meter with the other published commands, acknowledged


#: (cluster, server-to-client, command) -> handler(device, payload, component): the ZSE
#: response (status, response command, payload), or None for a Default Response
COMMAND_HANDLERS = {
    (EVENTS, False, 0): _get_event_log,
    (METERING, False, 7): _start_sampling,
    (METERING, False, 6): snapshots.get_snapshot,
    (PREPAYMENT, False, 7): snapshots.get_prepay_snapshot,
    (DEVICE_MANAGEMENT, True, 2): _published,
}

def prepare(device: Any, payload: dict) -> None:
    """A log a command reads has an entry in the period it reads (a meter in service)."""
    snapshots.prepare(device, payload)
    for comp in payload.get("components") or []:
        z = comp.get("zcl") or {}
        key = (comp.get("cluster_id"), bool(z.get("frame_control", 0) & 0x08), z.get("command_id"))
        p = z.get("payload") or {}
        if key == (EVENTS, False, 0):
            log_id = int(p.get("EventControlLogID", 0)) & 0x0F or EVENT_LOG
            if not logs(device).events.get(log_id):
                record_event(device, log_id, int(p.get("EventID", 0)) or 0x8F1E)
