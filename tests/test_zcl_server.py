"""The sans-IO attribute server against the ZCL 07-5123 rules: 2.5.1-2.5.6 (read/write status
codes), 2.5.7-2.5.10 (reporting configuration), 2.5.11 + 2.5.7.1.5-7 (when reports are due),
2.5.12.2 (when a Default Response is sent), 2.5.14-2.5.24 (discovery)."""

from __future__ import annotations

from protocols.zcl import foundation as f
from protocols.zcl import types as T
from protocols.zcl.foundation import Status, decode_global, global_frame
from protocols.zcl.frame import ZclFrame, decode_zcl, encode_zcl
from protocols.zcl.se import BASIC, METERING, TIME
from protocols.zcl.server import AttributeServer, default_response, needs_default_response
from protocols.zcl.clusters import cluster_frame

C2S, S2C = 0, 1


def _esme(**kw) -> AttributeServer:
    return AttributeServer.with_defaults(
        METERING, ["CurrentSummationDelivered", "InstantaneousDemand", "UnitofMeasure",
                   "Status", "GenericAlarmMask", "Divisor"],
        {"CurrentSummationDelivered": 1000, "InstantaneousDemand": 250}, **kw)


def _ask(server: AttributeServer, command, tsn: int = 1, **kw):
    rsp = server.handle(global_frame(command, tsn, **kw))
    return rsp, (decode_global(rsp.command_id, rsp.payload) if rsp else None)


def test_read_attributes() -> None:
    rsp, body = _ask(_esme(), f.ReadAttributes((0x0000, 0x0400, 0x1234, 0x0300)), tsn=77)
    assert (rsp.frame_type, rsp.command_id, rsp.tsn, rsp.direction) == (0, 0x01, 77, S2C)
    assert rsp.disable_default_response
    assert body.records == (
        f.ReadAttributeStatusRecord(0x0000, Status.SUCCESS, T.UINT48, 1000),
        f.ReadAttributeStatusRecord(0x0400, Status.SUCCESS, T.INT24, 250),
        f.ReadAttributeStatusRecord(0x1234, Status.UNSUPPORTED_ATTRIBUTE),
        f.ReadAttributeStatusRecord(0x0300, Status.SUCCESS, T.ENUM8, 0))
    # the wire form of the first record, assembled by hand (ZCL Figure 2-11)
    assert rsp.payload.startswith(bytes.fromhex("0000" "00" "25" "e80300000000"))


def test_read_unusable_value_gives_failure_not_exception() -> None:
    s = _esme()
    s.values[0x0400] = 1 << 30  # does not fit int24
    _, body = _ask(s, f.ReadAttributes((0x0400,)))
    assert body.records == (f.ReadAttributeStatusRecord(0x0400, Status.FAILURE),)


def test_write_attributes_status_codes() -> None:
    seen = []

    def on_write(attr_id, value):
        seen.append((attr_id, value))
        return Status.INVALID_VALUE if value == 0 else None

    s = _esme(on_write=on_write)
    _, body = _ask(s, f.WriteAttributes((
        f.WriteAttributeRecord(0x0000, T.UINT48, 5),          # read-only
        f.WriteAttributeRecord(0x0800, T.UINT16, 5),          # wrong type (bitmap16)
        f.WriteAttributeRecord(0x9999, T.UINT8, 5),           # unsupported
        f.WriteAttributeRecord(0x0800, T.BITMAP16, 0),        # vetoed by the device
        f.WriteAttributeRecord(0x0800, T.BITMAP16, 0x00FF))))  # fine
    assert body.records == (
        f.WriteAttributeStatusRecord(Status.READ_ONLY, 0x0000),
        f.WriteAttributeStatusRecord(Status.INVALID_DATA_TYPE, 0x0800),
        f.WriteAttributeStatusRecord(Status.UNSUPPORTED_ATTRIBUTE, 0x9999),
        f.WriteAttributeStatusRecord(Status.INVALID_VALUE, 0x0800))
    assert s.values[0x0800] == 0x00FF and s.values[0x0000] == 1000
    assert seen == [(0x0800, 0), (0x0800, 0x00FF)]
    _, body = _ask(s, f.WriteAttributes((f.WriteAttributeRecord(0x0800, T.BITMAP16, 1),)))
    assert body.records == (f.WriteAttributeStatusRecord(Status.SUCCESS),)
    assert s.values[0x0800] == 1


def test_write_undivided_is_all_or_nothing_and_no_response_is_silent() -> None:
    s = AttributeServer.with_defaults(BASIC, ["LocationDescription", "PhysicalEnvironment",
                                              "ZCLVersion"])
    _, body = _ask(s, f.WriteAttributesUndivided((
        f.WriteAttributeRecord(0x0010, T.CHARACTER_STRING, "Hall"),
        f.WriteAttributeRecord(0x0000, T.UINT8, 9))))
    assert body.records == (f.WriteAttributeStatusRecord(Status.READ_ONLY, 0x0000),)
    assert s.values[0x0010] == ""
    rsp, body = _ask(s, f.WriteAttributesUndivided((
        f.WriteAttributeRecord(0x0010, T.CHARACTER_STRING, "Hall"),
        f.WriteAttributeRecord(0x0011, T.ENUM8, 1))))
    assert rsp.command_id == 0x04 and s.values[0x0010] == "Hall" and s.values[0x0011] == 1
    rsp = s.handle(global_frame(f.WriteAttributesNoResponse((
        f.WriteAttributeRecord(0x0011, T.ENUM8, 2), f.WriteAttributeRecord(0x0000, T.UINT8, 9))),
        3))
    assert rsp is None and s.values[0x0011] == 2 and s.values[0x0000] == 0x01


def test_configure_and_read_reporting_configuration() -> None:
    s = _esme()
    _, body = _ask(s, f.ConfigureReporting((
        f.AttributeReportingConfigurationRecord(0, 0x0000, T.UINT48, 5, 300, 10),
        f.AttributeReportingConfigurationRecord(0, 0x0800, T.BITMAP16, 1, 60),   # "rw" only
        f.AttributeReportingConfigurationRecord(0, 0x7777, T.UINT8, 1, 60, 1),
        f.AttributeReportingConfigurationRecord(0, 0x0400, T.INT16, 1, 60, 1),   # wrong type
        f.AttributeReportingConfigurationRecord(0, 0x0302, T.UINT24, 90, 60, 1),  # min > max
        f.AttributeReportingConfigurationRecord(1, 0x0000, timeout_period=600))))
    assert body.records == (
        f.AttributeStatusRecord(Status.UNREPORTABLE_ATTRIBUTE, 0, 0x0800),
        f.AttributeStatusRecord(Status.UNSUPPORTED_ATTRIBUTE, 0, 0x7777),
        f.AttributeStatusRecord(Status.INVALID_DATA_TYPE, 0, 0x0400),
        f.AttributeStatusRecord(Status.INVALID_VALUE, 0, 0x0302))
    assert set(s.reporting) == {0x0000} and s.report_timeouts == {0x0000: 600}
    _, body = _ask(s, f.ReadReportingConfiguration((
        f.AttributeRecord(0, 0x0000), f.AttributeRecord(0, 0x0400), f.AttributeRecord(0, 0x0800),
        f.AttributeRecord(0, 0x4242), f.AttributeRecord(1, 0x0000))))
    R = f.AttributeReportingConfigurationResponseRecord
    assert body.records == (
        R(Status.SUCCESS, 0, 0x0000, T.UINT48, 5, 300, 10),
        R(Status.NOT_FOUND, 0, 0x0400), R(Status.UNREPORTABLE_ATTRIBUTE, 0, 0x0800),
        R(Status.UNSUPPORTED_ATTRIBUTE, 0, 0x4242), R(Status.SUCCESS, 1, 0x0000,
                                                      timeout_period=600))
    # max interval 0xFFFF stops reporting (ZCL 2.5.7.1.6)
    _, body = _ask(s, f.ConfigureReporting((
        f.AttributeReportingConfigurationRecord(0, 0x0000, T.UINT48, 0, 0xFFFF, 0),)))
    assert body.records == (f.AttributeStatusRecord(Status.SUCCESS),)
    assert s.reporting == {}


def _configure(s: AttributeServer, *records) -> None:
    _, body = _ask(s, f.ConfigureReporting(records))
    assert body.records == (f.AttributeStatusRecord(Status.SUCCESS),)


def _reported(frames) -> dict:
    assert len(frames) <= 1
    if not frames:
        return {}
    fr = frames[0]
    assert (fr.frame_type, fr.command_id, fr.direction) == (0, 0x0A, S2C)
    return {r.attribute_id: r.value for r in decode_global(0x0A, fr.payload).reports}


def test_reporting_min_max_interval_and_reportable_change() -> None:
    s = _esme(first_tsn=200)
    _configure(s, f.AttributeReportingConfigurationRecord(0, 0x0000, T.UINT48, 10, 60, 5),
               f.AttributeReportingConfigurationRecord(0, 0x0200, T.BITMAP8, 2, 0))
    first = s.due_reports(1000.0)
    assert _reported(first) == {0x0000: 1000, 0x0200: 0} and first[0].tsn == 200
    assert s.next_report_time(1000.0) == 1060.0          # only max interval pending
    s.values[0x0000] = 1004                               # below reportable change
    assert s.due_reports(1020.0) == [] and s.next_report_time(1020.0) == 1060.0
    s.values[0x0000] = 1005                               # reaches it ...
    assert s.next_report_time(1005.0) == 1010.0           # ... but min interval holds it
    assert s.due_reports(1009.0) == []
    assert _reported(s.due_reports(1010.0)) == {0x0000: 1005}
    s.values[0x0200] = 0x01                               # discrete: any change, min 2 s
    assert _reported(s.due_reports(1011.0)) == {0x0200: 0x01}
    assert s.next_report_time(1011.0) == 1070.0           # max 0: no periodic report for 0x0200
    rep = s.due_reports(1070.0)
    assert _reported(rep) == {0x0000: 1005} and rep[0].tsn == 203
    assert s.due_reports(1129.9) == [] and _reported(s.due_reports(1130.0)) == {0x0000: 1005}


def test_discover_attributes_and_commands() -> None:
    s = _esme()
    _, body = _ask(s, f.DiscoverAttributes(0x0300, 2))
    assert body == f.DiscoverAttributesResponse(False, (
        f.AttributeInformation(0x0300, T.ENUM8), f.AttributeInformation(0x0302, T.UINT24)))
    _, body = _ask(s, f.DiscoverAttributes(0x0400, 10))
    assert body.discovery_complete and [r.attribute_id for r in body.records] == [0x0400, 0x0800]
    _, body = _ask(s, f.DiscoverAttributesExtended(0x0000, 10))
    access = {r.attribute_id: r.access_control for r in body.records}
    assert access[0x0000] == f.ACCESS_READABLE | f.ACCESS_REPORTABLE
    assert access[0x0800] == f.ACCESS_READABLE | f.ACCESS_WRITEABLE
    _, body = _ask(s, f.DiscoverCommandsReceived(0x08, 3))
    assert body == f.DiscoverCommandsReceivedResponse(False, (0x08, 0x09, 0x0A))
    _, body = _ask(s, f.DiscoverCommandsGenerated(0x0C, 10))
    assert body == f.DiscoverCommandsGeneratedResponse(True, (0x0C, 0x0D))


def test_default_response_rules() -> None:
    s = _esme()
    # unsupported global command: error, so sent even with disable-default-response
    rsp = s.handle(ZclFrame(0, 0x0E, 9, b"", C2S, True))
    assert encode_zcl(rsp) == bytes.fromhex("18" "09" "0b" "0e" "82")
    # malformed payload
    rsp = s.handle(ZclFrame(0, 0x00, 10, b"\x00", C2S))
    assert decode_global(0x0B, rsp.payload) == f.DefaultResponse(0x00, Status.MALFORMED_COMMAND)
    # cluster-specific and manufacturer-specific frames are not this server's business
    rsp = s.handle(cluster_frame(0x0702, C2S, "GetProfile", 11, IntervalChannel=0,
                                 EndTime=0, NumberofPeriods=1))
    assert decode_global(0x0B, rsp.payload).status == Status.UNSUP_CLUSTER_COMMAND
    rsp = s.handle(ZclFrame(0, 0x00, 12, b"\x00\x00", C2S, manufacturer_code=0x1234))
    assert decode_global(0x0B, rsp.payload).status == Status.UNSUP_MANUF_GENERAL_COMMAND
    assert rsp.manufacturer_code == 0x1234
    # responses and frames travelling the other way get nothing
    assert s.handle(ZclFrame(0, 0x0B, 13, b"\x00\x00", C2S)) is None
    assert s.handle(ZclFrame(0, 0x01, 14, b"", C2S)) is None
    assert s.handle(global_frame(f.ReadAttributes((0,)), 15, S2C)) is None
    # Report Attributes to a server that is not a mirror
    rsp = s.handle(global_frame(f.ReportAttributes((f.AttributeReport(0, T.UINT48, 1),)), 16))
    assert decode_global(0x0B, rsp.payload).status == Status.UNSUP_GENERAL_COMMAND


def test_default_response_helper_for_configure_mirror() -> None:
    # The CH answers ConfigureMirror (s->c, cmd 0x08) with Default Response (0x08, SUCCESS).
    cm = cluster_frame(0x0702, S2C, "ConfigureMirror", 31, IssuerEventID=1,
                       ReportingInterval=1800, MirrorNotificationReporting=False,
                       NotificationScheme=0)
    assert needs_default_response(cm, Status.SUCCESS)
    rsp = default_response(cm, Status.SUCCESS)
    assert encode_zcl(rsp) == bytes.fromhex("10" "1f" "0b" "08" "00")
    assert decode_zcl(encode_zcl(rsp)) == rsp
    quiet = ZclFrame(1, 0x08, 1, b"", S2C, True)
    assert not needs_default_response(quiet, Status.SUCCESS)
    assert needs_default_response(quiet, Status.INVALID_FIELD)
    assert not needs_default_response(ZclFrame(0, 0x0B, 1, b"\x00\x81", S2C),
                                      Status.FAILURE)


def test_mirror_accepts_reports() -> None:
    mirror = AttributeServer.with_defaults(METERING, ["CurrentSummationDelivered", "Status",
                                                      "UnitofMeasure"], accept_reports=True)
    report = global_frame(f.ReportAttributes((
        f.AttributeReport(0x0000, T.UINT48, 424242), f.AttributeReport(0x0300, T.ENUM8, 1),
        f.AttributeReport(0x0200, T.UINT8, 3),  # wrong type: ignored
        f.AttributeReport(0x7777, T.UINT8, 3))), 5, S2C)
    rsp = mirror.handle_report(report)
    assert decode_global(0x0B, rsp.payload) == f.DefaultResponse(0x0A, Status.SUCCESS)
    assert rsp.direction == C2S
    assert mirror.values[0x0000] == 424242 and mirror.values[0x0300] == 1
    assert mirror.values[0x0200] == 0 and 0x7777 not in mirror.values
    quiet = global_frame(f.ReportAttributes((f.AttributeReport(0, T.UINT48, 1),)), 6, S2C,
                         disable_default_response=True)
    assert mirror.handle_report(quiet) is None and mirror.values[0] == 1
    # handle() routes reports to a mirror whatever their direction
    again = global_frame(f.ReportAttributes((f.AttributeReport(0, T.UINT48, 2),)), 8, S2C)
    assert mirror.handle(again).command_id == 0x0B and mirror.values[0] == 2
    bad = ZclFrame(0, 0x0A, 7, b"\x00\x00\x25\x01", S2C)
    assert decode_global(0x0B, mirror.handle_report(bad).payload).status == \
        Status.MALFORMED_COMMAND


def test_client_side_attributes_and_time_master() -> None:
    # The CH answers the GSME's read of Metering client FunctionalNotificationFlags (s->c).
    client = AttributeServer.with_defaults(METERING, ["FunctionalNotificationFlags"],
                                           {"FunctionalNotificationFlags": 0x1},
                                           client_side=True)
    rsp, body = _ask(client, f.ReadAttributes((0x0000,)), direction=S2C)
    assert rsp.direction == C2S
    assert body.records == (f.ReadAttributeStatusRecord(0, Status.SUCCESS, T.BITMAP32, 1),)
    time = AttributeServer.with_defaults(TIME, None, {"Time": 753315200, "TimeStatus": 0x09})
    _, body = _ask(time, f.ReadAttributes((0x0000, 0x0001)))
    assert [r.value for r in body.records] == [753315200, 0x09]
