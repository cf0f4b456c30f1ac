"""Sans-IO ZCL attribute server: answers the profile-wide commands for one cluster instance and
produces attribute reports.

Implements the receiving side of ZigBee Cluster Library (07-5123) section 2.5 ("General Command
Frames"): Read Attributes (2.5.1/2.5.2), Write Attributes, Undivided and No Response (2.5.3-2.5.6),
Configure Reporting (2.5.7/2.5.8), Read Reporting Configuration (2.5.9/2.5.10), Discover
Attributes (2.5.14/2.5.15), Discover Commands (2.5.19-2.5.22), Discover Attributes Extended
(2.5.23/2.5.24), the Default Response rules of 2.5.12.2, and attribute reporting
(2.5.11 and 2.5.7.1.5-2.5.7.1.7: minimum / maximum reporting interval, reportable change).

The server holds no clock: the caller passes C{now} (seconds, any origin) to L{due_reports}
and schedules its own timer with L{AttributeServer.next_report_time}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from protocols.errors import CodecError
from protocols.zcl import foundation as f
from protocols.zcl.clusters import ClusterDef
from protocols.zcl.foundation import Status
from protocols.zcl.frame import (DIRECTION_CLIENT_TO_SERVER, DIRECTION_SERVER_TO_CLIENT,
                                 FRAME_TYPE_GLOBAL, ZclFrame)
from protocols.zcl.types import DATA_TYPES, encode_value

__all__ = ["AttributeServer", "ReportingConfiguration", "default_response",
           "needs_default_response", "MAX_INTERVAL_STOP"]

#: Maximum reporting interval meaning "do not report this attribute" (ZCL 2.5.7.1.6).
MAX_INTERVAL_STOP = 0xFFFF

_RESPONSE_COMMANDS = frozenset((0x01, 0x04, 0x07, 0x09, 0x0B, 0x0D, 0x10, 0x12, 0x14, 0x16))


def needs_default_response(frame: ZclFrame, status: int) -> bool:
    """Whether a Default Response must be sent for a received frame that had no specific
    response (ZCL 2.5.12.2): always on error, on success only if the sender did not set
    "disable default response"; never in answer to a Default Response."""
    if frame.frame_type == FRAME_TYPE_GLOBAL and frame.command_id == 0x0B:
        return False
    return status != Status.SUCCESS or not frame.disable_default_response


def default_response(frame: ZclFrame, status: int) -> ZclFrame:
    """Build the Default Response (0x0B) answering the received C{frame} with C{status}.

    Same TSN and manufacturer code, opposite direction, "disable default response" set.
    Works for global and cluster-specific frames alike.
    """
    return ZclFrame(FRAME_TYPE_GLOBAL, 0x0B, frame.tsn, bytes((frame.command_id, int(status))),
                    frame.direction ^ 1, True, frame.manufacturer_code)


@dataclass(slots=True)
class ReportingConfiguration:
    """Reporting configuration of one attribute (direction 0: this server sends reports).

    @ivar last_value: value at the last report (C{None} before the first one).
    @ivar last_report_time: caller's time of the last report, C{None} = report at once.
    """
    attribute_id: int
    type_id: int
    min_interval: int
    max_interval: int
    reportable_change: Any = None
    last_value: Any = None
    last_report_time: float | None = None


class AttributeServer:
    """Attribute store and profile-wide command handler for one cluster on one endpoint.

    @ivar cluster: the L{ClusterDef}.
    @ivar values: attribute identifier -> current value; only attributes present here (and
        defined in the cluster) are supported. Devices update it directly.
    @ivar reporting: attribute identifier -> L{ReportingConfiguration}.
    @ivar report_timeouts: attribute identifier -> timeout period (s) configured with
        direction 1 (reports this side expects to receive).
    """

    __slots__ = ("cluster", "values", "on_write", "client_side", "accept_reports",
                 "reporting", "report_timeouts", "_defs", "_tsn", "_direction_in",
                 "report_disable_default_response", "max_reporting")

    def __init__(self, cluster_def: ClusterDef, values: dict[int, Any], *,
                 on_write: Callable[[int, Any], int | None] | None = None,
                 client_side: bool = False, accept_reports: bool = False,
                 report_disable_default_response: bool = True, first_tsn: int = 0,
                 max_reporting: int = 32) -> None:
        """
        @param cluster_def: the cluster served.
        @param values: initial attribute values by identifier (kept, not copied).
        @param on_write: called as C{on_write(attribute_id, value)} before a write is
            stored; return C{None} or C{Status.SUCCESS} to accept, another status (e.g.
            C{Status.INVALID_VALUE}) to refuse.
        @param client_side: serve the cluster's client attributes (frames travelling server
            to client), e.g. Metering's FunctionalNotificationFlags.
        @param accept_reports: store attributes received in Report Attributes (a mirror).
        @param report_disable_default_response: the "disable default response" bit of the
            Report Attributes frames from L{due_reports}.
        @param first_tsn: transaction sequence number of the first report.
        @param max_reporting: reporting configurations held at most (both directions); a
            new one beyond is refused with INSUFFICIENT_SPACE.
        """
        self.cluster = cluster_def
        self.max_reporting = max_reporting
        self.values = values
        self.on_write = on_write
        self.client_side = client_side
        self.accept_reports = accept_reports
        self.report_disable_default_response = report_disable_default_response
        self.reporting: dict[int, ReportingConfiguration] = {}
        self.report_timeouts: dict[int, int] = {}
        self._defs = cluster_def.client_attributes if client_side else cluster_def.attributes
        self._tsn = first_tsn & 0xFF
        self._direction_in = DIRECTION_SERVER_TO_CLIENT if client_side \
            else DIRECTION_CLIENT_TO_SERVER

    @classmethod
    def with_defaults(cls, cluster_def: ClusterDef, names: "list[str] | None" = None,
                      overrides: Mapping[str, Any] | None = None, **kw: Any
                      ) -> "AttributeServer":
        """Build a server supporting the named attributes (all if C{names} is C{None}) with
        their default values, then C{overrides} by attribute name."""
        defs = cluster_def.client_attributes if kw.get("client_side") else \
            cluster_def.attributes
        by_name = {a.name: i for i, a in defs.items()}
        ids = list(defs) if names is None else [by_name[n] for n in names]
        values = {i: defs[i].default for i in ids}
        for name, v in (overrides or {}).items():
            values[by_name[name]] = v
        return cls(cluster_def, values, **kw)

    # --- helpers -------------------------------------------------------------------------

    def _supported(self, attr_id: int) -> Any:
        d = self._defs.get(attr_id)
        return d if d is not None and attr_id in self.values else None

    def _reply(self, frame: ZclFrame, command: Any) -> ZclFrame:
        return ZclFrame(FRAME_TYPE_GLOBAL, command.command_id, frame.tsn, command.encode(),
                        frame.direction ^ 1, True, frame.manufacturer_code)

    def next_tsn(self) -> int:
        """Return the next transaction sequence number for frames this server originates."""
        tsn = self._tsn
        self._tsn = (tsn + 1) & 0xFF
        return tsn

    # --- incoming frames -----------------------------------------------------------------

    def handle(self, frame: ZclFrame) -> ZclFrame | None:
        """Process one received frame addressed to this cluster; return the response frame
        (a specific response or a Default Response) or C{None} when none is due.

        Frames travelling the other way (not addressed to this side of the cluster) and
        response commands are ignored (C{None}), except Report Attributes when the server
        was built with C{accept_reports} (a mirror: see L{handle_report}).
        Cluster-specific frames are not handled here: they get UNSUP_CLUSTER_COMMAND
        (devices handle theirs before calling this).
        """
        if self.accept_reports and frame.command_id == 0x0A and \
                frame.frame_type == FRAME_TYPE_GLOBAL and frame.manufacturer_code is None:
            # a mirror takes the reports its meter (a server) sends towards clients
            if frame.direction != DIRECTION_SERVER_TO_CLIENT:
                return None
            return self.handle_report(frame)
        if frame.direction != self._direction_in:
            return None
        if frame.frame_type != FRAME_TYPE_GLOBAL:
            return default_response(frame, Status.UNSUP_CLUSTER_COMMAND)
        if frame.manufacturer_code is not None:
            return default_response(frame, Status.UNSUP_MANUF_GENERAL_COMMAND)
        cmd = frame.command_id
        handler = _HANDLERS.get(cmd)
        if handler is None:
            if cmd in _RESPONSE_COMMANDS:
                return None
            return default_response(frame, Status.UNSUP_GENERAL_COMMAND)
        try:
            request = f.GLOBAL_COMMANDS[cmd].decode(frame.payload)
        except CodecError:
            return default_response(frame, Status.MALFORMED_COMMAND)
        return handler(self, frame, request)

    def _read_attributes(self, frame: ZclFrame, req: f.ReadAttributes) -> ZclFrame:
        out = []
        values, defs = self.values, self._defs
        for attr_id in req.attribute_ids:
            d = defs.get(attr_id)
            head = bytes((attr_id & 0xFF, attr_id >> 8))
            if d is None or attr_id not in values:
                out.append(head + b"\x86")  # UNSUPPORTED_ATTRIBUTE
            elif "r" not in d.access:
                out.append(head + b"\x8f")  # WRITE_ONLY
            else:
                try:
                    out.append(head + bytes((0, d.type_id))
                               + encode_value(d.type_id, values[attr_id]))
                except CodecError:
                    out.append(head + b"\x01")  # FAILURE: the stored value is unusable
        return ZclFrame(FRAME_TYPE_GLOBAL, 0x01, frame.tsn, b"".join(out),
                        frame.direction ^ 1, True, None)

    def _check_write(self, rec: f.WriteAttributeRecord) -> int:
        d = self._defs.get(rec.attribute_id)
        if d is None or rec.attribute_id not in self.values:
            return Status.UNSUPPORTED_ATTRIBUTE
        if "w" not in d.access:
            return Status.READ_ONLY
        if rec.type_id != d.type_id:
            return Status.INVALID_DATA_TYPE
        if self.on_write is not None:
            verdict = self.on_write(rec.attribute_id, rec.value)
            if verdict is not None and verdict != Status.SUCCESS:
                return verdict
        return Status.SUCCESS

    def _write_response(self, frame: ZclFrame, failures: list) -> ZclFrame:
        records = tuple(f.WriteAttributeStatusRecord(s, a) for a, s in failures) or \
            (f.WriteAttributeStatusRecord(Status.SUCCESS),)
        return self._reply(frame, f.WriteAttributesResponse(records))

    def _write_attributes(self, frame: ZclFrame, req: f.WriteAttributes) -> ZclFrame:
        failures = []
        for rec in req.records:
            s = self._check_write(rec)
            if s == Status.SUCCESS:
                self.values[rec.attribute_id] = rec.value
            else:
                failures.append((rec.attribute_id, s))
        return self._write_response(frame, failures)

    def _write_undivided(self, frame: ZclFrame, req: f.WriteAttributesUndivided) -> ZclFrame:
        checked = [(rec, self._check_write(rec)) for rec in req.records]
        failures = [(rec.attribute_id, s) for rec, s in checked if s != Status.SUCCESS]
        if not failures:
            for rec, _ in checked:
                self.values[rec.attribute_id] = rec.value
        return self._write_response(frame, failures)

    def _write_no_response(self, frame: ZclFrame, req: f.WriteAttributesNoResponse) -> None:
        for rec in req.records:
            if self._check_write(rec) == Status.SUCCESS:
                self.values[rec.attribute_id] = rec.value
        return None

    def _configure_reporting(self, frame: ZclFrame, req: f.ConfigureReporting) -> ZclFrame:
        failures = []
        for rec in req.records:
            attr_id = rec.attribute_id
            d = self._supported(attr_id)
            new_entry = attr_id not in (self.report_timeouts if rec.direction == f.REPORTING_DIRECTION_RECEIVE
                                        else self.reporting)
            if new_entry and len(self.reporting) + len(self.report_timeouts) >= self.max_reporting:
                failures.append(f.AttributeStatusRecord(Status.INSUFFICIENT_SPACE, rec.direction, attr_id))
                continue
            if rec.direction == f.REPORTING_DIRECTION_RECEIVE:
                if attr_id not in self.cluster.attributes and attr_id not in self.cluster.client_attributes:
                    failures.append(f.AttributeStatusRecord(Status.UNSUPPORTED_ATTRIBUTE, rec.direction, attr_id))
                else:
                    self.report_timeouts[attr_id] = rec.timeout_period
                continue
            if d is None:
                status = Status.UNSUPPORTED_ATTRIBUTE
            elif "p" not in d.access:
                status = Status.UNREPORTABLE_ATTRIBUTE
            elif rec.type_id != d.type_id:
                status = Status.INVALID_DATA_TYPE
            elif rec.max_interval not in (0, MAX_INTERVAL_STOP) and \
                    rec.min_interval > rec.max_interval:
                status = Status.INVALID_VALUE
            else:
                status = Status.SUCCESS
            if status != Status.SUCCESS:
                failures.append(f.AttributeStatusRecord(status, rec.direction, attr_id))
            elif rec.max_interval == MAX_INTERVAL_STOP:
                self.reporting.pop(attr_id, None)
            else:
                self.reporting[attr_id] = ReportingConfiguration(
                    attr_id, d.type_id, rec.min_interval, rec.max_interval,
                    rec.reportable_change)
        records = tuple(failures) or (f.AttributeStatusRecord(Status.SUCCESS),)
        return self._reply(frame, f.ConfigureReportingResponse(records))

    def _read_reporting_configuration(self, frame: ZclFrame,
                                      req: f.ReadReportingConfiguration) -> ZclFrame:
        out = []
        R = f.AttributeReportingConfigurationResponseRecord
        for rec in req.records:
            attr_id, direction = rec.attribute_id, rec.direction
            if direction == f.REPORTING_DIRECTION_RECEIVE:
                timeout = self.report_timeouts.get(attr_id)
                out.append(R(Status.NOT_FOUND, direction, attr_id) if timeout is None else
                           R(Status.SUCCESS, direction, attr_id, timeout_period=timeout))
                continue
            d = self._supported(attr_id)
            cfg = self.reporting.get(attr_id)
            if d is None:
                out.append(R(Status.UNSUPPORTED_ATTRIBUTE, direction, attr_id))
            elif "p" not in d.access:
                out.append(R(Status.UNREPORTABLE_ATTRIBUTE, direction, attr_id))
            elif cfg is None:
                out.append(R(Status.NOT_FOUND, direction, attr_id))
            else:
                change = cfg.reportable_change if DATA_TYPES[cfg.type_id].analog else None
                out.append(R(Status.SUCCESS, f.REPORTING_DIRECTION_SEND, attr_id, cfg.type_id,
                             cfg.min_interval, cfg.max_interval, change))
        return self._reply(frame, f.ReadReportingConfigurationResponse(tuple(out)))

    def _discover(self, start: int, limit: int) -> tuple[bool, list[int]]:
        ids = sorted(a for a in self.values if a in self._defs and a >= start)
        return len(ids) <= limit, ids[:limit]

    def _discover_attributes(self, frame: ZclFrame, req: f.DiscoverAttributes) -> ZclFrame:
        complete, ids = self._discover(req.start_attribute_id, req.max_attribute_ids)
        return self._reply(frame, f.DiscoverAttributesResponse(
            complete, tuple(f.AttributeInformation(a, self._defs[a].type_id) for a in ids)))

    def _discover_attributes_extended(self, frame: ZclFrame,
                                      req: f.DiscoverAttributesExtended) -> ZclFrame:
        complete, ids = self._discover(req.start_attribute_id, req.max_attribute_ids)
        recs = []
        for a in ids:
            d = self._defs[a]
            access = ((f.ACCESS_READABLE if "r" in d.access else 0)
                      | (f.ACCESS_WRITEABLE if "w" in d.access else 0)
                      | (f.ACCESS_REPORTABLE if "p" in d.access else 0))
            recs.append(f.ExtendedAttributeInformation(a, d.type_id, access))
        return self._reply(frame, f.DiscoverAttributesExtendedResponse(complete, tuple(recs)))

    def _discover_commands(self, frame: ZclFrame, req: Any) -> ZclFrame:
        received = req.command_id == 0x11
        server_rx = self.cluster.server_commands
        client_rx = self.cluster.client_commands
        # The server receives client-to-server commands and generates server-to-client ones.
        source = (server_rx if received else client_rx) if not self.client_side else \
            (client_rx if received else server_rx)
        ids = sorted(c for c in source if c >= req.start_command_id)
        complete = len(ids) <= req.max_command_ids
        ids = tuple(ids[:req.max_command_ids])
        cls = f.DiscoverCommandsReceivedResponse if received else \
            f.DiscoverCommandsGeneratedResponse
        return self._reply(frame, cls(complete, ids))

    def _report_attributes(self, frame: ZclFrame, req: f.ReportAttributes) -> ZclFrame | None:
        if not self.accept_reports:
            return default_response(frame, Status.UNSUP_GENERAL_COMMAND)
        for rep in req.reports:
            # only attributes the mirror holds, with the data type the cluster defines
            d = self._defs.get(rep.attribute_id)
            if d is not None and d.type_id == rep.type_id and rep.attribute_id in self.values:
                self.values[rep.attribute_id] = rep.value
        return None if frame.disable_default_response else \
            default_response(frame, Status.SUCCESS)

    def handle_report(self, frame: ZclFrame) -> ZclFrame | None:
        """Process a Report Attributes frame whatever its direction (a mirror receives the
        reports a metering server sends towards its clients). Returns the Default Response
        due, if any."""
        try:
            req = f.ReportAttributes.decode(frame.payload)
        except CodecError:
            return default_response(frame, Status.MALFORMED_COMMAND)
        return self._report_attributes(frame, req)

    # --- reporting -----------------------------------------------------------------------

    def _changed(self, cfg: ReportingConfiguration, value: Any) -> bool:
        last = cfg.last_value
        if value == last:
            return False
        change = cfg.reportable_change
        if change is None or not DATA_TYPES[cfg.type_id].analog:
            return True
        try:
            return abs(value - last) >= change
        except TypeError:
            return True

    def _due(self, cfg: ReportingConfiguration, now: float) -> bool:
        if cfg.last_report_time is None:
            return True
        elapsed = now - cfg.last_report_time
        if cfg.max_interval and elapsed >= cfg.max_interval:
            return True
        return elapsed >= cfg.min_interval and self._changed(cfg, self.values.get(
            cfg.attribute_id))

    def due_reports(self, now: float) -> list[ZclFrame]:
        """Return the Report Attributes frames due at time C{now} (at most one frame, carrying
        every due attribute) and mark those attributes as reported at C{now}."""
        reports = []
        for attr_id, cfg in self.reporting.items():
            if attr_id not in self.values:
                continue
            if self._due(cfg, now):
                value = self.values[attr_id]
                reports.append(f.AttributeReport(attr_id, cfg.type_id, value))
                cfg.last_value = value
                cfg.last_report_time = now
        if not reports:
            return []
        payload = f.ReportAttributes(tuple(reports)).encode()
        return [ZclFrame(FRAME_TYPE_GLOBAL, 0x0A, self.next_tsn(), payload,
                         self._direction_in ^ 1, self.report_disable_default_response, None)]

    def next_report_time(self, now: float) -> float | None:
        """Earliest time at or after C{now} when L{due_reports} may return a report, or
        C{None} if nothing is configured. A value that changes later can only bring a report
        forward to C{last_report_time + min_interval}; callers re-ask after each change."""
        best = None
        for attr_id, cfg in self.reporting.items():
            if attr_id not in self.values:
                continue
            if cfg.last_report_time is None:
                return now
            t = None
            if cfg.max_interval:
                t = cfg.last_report_time + cfg.max_interval
            if self._changed(cfg, self.values[attr_id]):
                m = cfg.last_report_time + cfg.min_interval
                t = m if t is None else min(t, m)
            if t is not None:
                t = max(t, now)
                best = t if best is None else min(best, t)
        return best


_HANDLERS: dict[int, Callable[..., ZclFrame | None]] = {
    0x00: AttributeServer._read_attributes,
    0x02: AttributeServer._write_attributes,
    0x03: AttributeServer._write_undivided,
    0x05: AttributeServer._write_no_response,
    0x06: AttributeServer._configure_reporting,
    0x08: AttributeServer._read_reporting_configuration,
    0x0A: AttributeServer._report_attributes,
    0x0C: AttributeServer._discover_attributes,
    0x11: AttributeServer._discover_commands,
    0x13: AttributeServer._discover_commands,
    0x15: AttributeServer._discover_attributes_extended,
}
