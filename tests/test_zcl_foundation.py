"""ZCL profile-wide commands (ZCL 07-5123 2.5) against scapy's independent implementation and
hand-assembled spec layouts; plus a garbage-input property test over every decoder of the ZCL
package (decode_zcl, all global commands, every cluster-specific command)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.zigbee import (ZCLAttributeReport, ZCLConfigureReportingRecord,
                                 ZCLConfigureReportingResponseRecord,
                                 ZCLGeneralConfigureReporting,
                                 ZCLGeneralConfigureReportingResponse,
                                 ZCLGeneralDefaultResponse, ZCLGeneralReadAttributes,
                                 ZCLGeneralReadAttributesResponse, ZCLGeneralReportAttributes,
                                 ZCLGeneralWriteAttributes, ZCLGeneralWriteAttributesResponse,
                                 ZCLReadAttributeStatusRecord, ZCLWriteAttributeRecord,
                                 ZCLWriteAttributeStatusRecord, _zcl_enumerated_status_values)

from protocols.errors import CodecError
from protocols.zcl import foundation as f
from protocols.zcl import types as T
from protocols.zcl.clusters import clusters, decode_command
from protocols.zcl.foundation import GLOBAL_COMMANDS, Status, decode_global, encode_global
from protocols.zcl.frame import decode_zcl


def test_status_names_match_scapy() -> None:
    assert {s.value: s.name for s in Status} == _zcl_enumerated_status_values


def test_global_command_ids() -> None:
    assert {c: cls.__name__ for c, cls in GLOBAL_COMMANDS.items()} == {
        0x00: "ReadAttributes", 0x01: "ReadAttributesResponse", 0x02: "WriteAttributes",
        0x03: "WriteAttributesUndivided", 0x04: "WriteAttributesResponse",
        0x05: "WriteAttributesNoResponse", 0x06: "ConfigureReporting",
        0x07: "ConfigureReportingResponse", 0x08: "ReadReportingConfiguration",
        0x09: "ReadReportingConfigurationResponse", 0x0A: "ReportAttributes",
        0x0B: "DefaultResponse", 0x0C: "DiscoverAttributes", 0x0D: "DiscoverAttributesResponse",
        0x11: "DiscoverCommandsReceived", 0x12: "DiscoverCommandsReceivedResponse",
        0x13: "DiscoverCommandsGenerated", 0x14: "DiscoverCommandsGeneratedResponse",
        0x15: "DiscoverAttributesExtended", 0x16: "DiscoverAttributesExtendedResponse"}


def _same(ours: object, scapy_pkt: object) -> None:
    wire = encode_global(ours)
    assert wire == bytes(scapy_pkt)
    assert decode_global(ours.command_id, wire) == ours


def test_read_attributes_vs_scapy() -> None:
    _same(f.ReadAttributes((0x0000, 0x0400, 0x0300)),
          ZCLGeneralReadAttributes(attribute_identifiers=[0x0000, 0x0400, 0x0300]))


def test_read_attributes_response_vs_scapy() -> None:
    ours = f.ReadAttributesResponse((
        f.ReadAttributeStatusRecord(0x0000, Status.SUCCESS, T.UINT48, 123456789),
        f.ReadAttributeStatusRecord(0x0400, Status.SUCCESS, T.INT24, -1500),
        f.ReadAttributeStatusRecord(0x0999, Status.UNSUPPORTED_ATTRIBUTE),
        f.ReadAttributeStatusRecord(0x0004, Status.SUCCESS, T.CHARACTER_STRING, "Acme")))
    scapy_pkt = ZCLGeneralReadAttributesResponse(read_attribute_status_record=[
        ZCLReadAttributeStatusRecord(attribute_identifier=0x0000, status=0,
                                     attribute_data_type=0x25,
                                     attribute_value=(123456789).to_bytes(6, "little")),
        ZCLReadAttributeStatusRecord(attribute_identifier=0x0400, status=0,
                                     attribute_data_type=0x2A,
                                     attribute_value=(-1500).to_bytes(3, "little", signed=True)),
        ZCLReadAttributeStatusRecord(attribute_identifier=0x0999, status=0x86),
        ZCLReadAttributeStatusRecord(attribute_identifier=0x0004, status=0,
                                     attribute_data_type=0x42, attribute_value=b"\x04Acme")])
    _same(ours, scapy_pkt)
    # and scapy reads our octets back record by record
    back = ZCLGeneralReadAttributesResponse(encode_global(ours))
    assert [r.attribute_identifier for r in back.read_attribute_status_record] == \
        [0x0000, 0x0400, 0x0999, 0x0004]


def test_write_attributes_and_response_vs_scapy() -> None:
    _same(f.WriteAttributes((f.WriteAttributeRecord(0x0010, T.CHARACTER_STRING, "Kitchen"),
                             f.WriteAttributeRecord(0x0011, T.ENUM8, 1))),
          ZCLGeneralWriteAttributes(write_records=[
              ZCLWriteAttributeRecord(attribute_identifier=0x0010, attribute_data_type=0x42,
                                      attribute_data=b"\x07Kitchen"),
              ZCLWriteAttributeRecord(attribute_identifier=0x0011, attribute_data_type=0x30,
                                      attribute_data=b"\x01")]))
    _same(f.WriteAttributesResponse((f.WriteAttributeStatusRecord(Status.READ_ONLY, 0x0000),
                                     f.WriteAttributeStatusRecord(Status.INVALID_DATA_TYPE,
                                                                  0x0011))),
          ZCLGeneralWriteAttributesResponse(status_records=[
              ZCLWriteAttributeStatusRecord(status=0x88, attribute_identifier=0x0000),
              ZCLWriteAttributeStatusRecord(status=0x8D, attribute_identifier=0x0011)]))
    # all written: a single SUCCESS status octet (ZCL 2.5.5.1)
    _same(f.WriteAttributesResponse((f.WriteAttributeStatusRecord(Status.SUCCESS),)),
          ZCLGeneralWriteAttributesResponse(status_records=[
              ZCLWriteAttributeStatusRecord(status=0)]))


def test_configure_reporting_vs_spec_layout_and_scapy() -> None:
    ours = f.ConfigureReporting((
        f.AttributeReportingConfigurationRecord(0, 0x0000, T.UINT48, 5, 300, 10),
        f.AttributeReportingConfigurationRecord(0, 0x0200, T.BITMAP8, 1, 600),
        f.AttributeReportingConfigurationRecord(1, 0x0400, timeout_period=900)))
    # ZCL Figure 2-16/2-17: direction, attr id, [type, min, max, change] | [timeout]
    assert encode_global(ours) == bytes.fromhex(
        "00" "0000" "25" "0500" "2c01" "0a0000000000"
        "00" "0002" "18" "0100" "5802"
        "01" "0004" "8403")
    assert decode_global(0x06, encode_global(ours)) == ours
    discrete = f.ConfigureReporting((
        f.AttributeReportingConfigurationRecord(0, 0x0200, T.BITMAP8, 1, 600),))
    assert encode_global(discrete) == bytes(ZCLGeneralConfigureReporting(config_records=[
        ZCLConfigureReportingRecord(attribute_direction=0, attribute_identifier=0x0200,
                                    attribute_data_type=0x18, min_reporting_interval=1,
                                    max_reporting_interval=600)]))


def test_configure_reporting_response_vs_scapy() -> None:
    _same(f.ConfigureReportingResponse((f.AttributeStatusRecord(Status.SUCCESS),)),
          ZCLGeneralConfigureReportingResponse(status_records=[
              ZCLConfigureReportingResponseRecord(status=0)]))
    _same(f.ConfigureReportingResponse((
        f.AttributeStatusRecord(Status.UNSUPPORTED_ATTRIBUTE, 0, 0x7777),
        f.AttributeStatusRecord(Status.UNREPORTABLE_ATTRIBUTE, 0, 0x0300))),
        ZCLGeneralConfigureReportingResponse(status_records=[
            ZCLConfigureReportingResponseRecord(status=0x86, attribute_direction=0,
                                                attribute_identifier=0x7777),
            ZCLConfigureReportingResponseRecord(status=0x8C, attribute_direction=0,
                                                attribute_identifier=0x0300)]))


def test_report_attributes_and_default_response_vs_scapy() -> None:
    _same(f.ReportAttributes((f.AttributeReport(0x0000, T.UINT48, 42),
                              f.AttributeReport(0x0400, T.INT24, -7))),
          ZCLGeneralReportAttributes(attribute_reports=[
              ZCLAttributeReport(attribute_identifier=0, attribute_data_type=0x25,
                                 attribute_data=(42).to_bytes(6, "little")),
              ZCLAttributeReport(attribute_identifier=0x0400, attribute_data_type=0x2A,
                                 attribute_data=(-7).to_bytes(3, "little", signed=True))]))
    _same(f.DefaultResponse(0x08, Status.SUCCESS),
          ZCLGeneralDefaultResponse(response_command_identifier=0x08, status=0))


def test_reporting_configuration_read_and_response_layouts() -> None:
    req = f.ReadReportingConfiguration((f.AttributeRecord(0, 0x0000), f.AttributeRecord(1, 5)))
    assert encode_global(req) == bytes.fromhex("000000" "010500")
    rsp = f.ReadReportingConfigurationResponse((
        f.AttributeReportingConfigurationResponseRecord(0, 0, 0x0000, T.UINT48, 5, 300, 10),
        f.AttributeReportingConfigurationResponseRecord(0, 1, 0x0005, timeout_period=60),
        f.AttributeReportingConfigurationResponseRecord(Status.NOT_FOUND, 0, 0x0401)))
    # ZCL 2.5.10.1: status, direction, attr id, then the configuration only on SUCCESS
    assert encode_global(rsp) == bytes.fromhex(
        "00" "00" "0000" "25" "0500" "2c01" "0a0000000000"
        "00" "01" "0500" "3c00"
        "8b" "00" "0104")
    assert decode_global(0x09, encode_global(rsp)) == rsp


def test_discover_commands_layouts() -> None:
    for cls, cid in [(f.DiscoverAttributes, 0x0C), (f.DiscoverAttributesExtended, 0x15)]:
        assert cls(0x0300, 16).encode() == b"\x00\x03\x10" and cls.command_id == cid
        assert decode_global(cid, b"\x00\x03\x10") == cls(0x0300, 16)
    rsp = f.DiscoverAttributesResponse(True, (f.AttributeInformation(0, T.UINT48),
                                              f.AttributeInformation(0x0400, T.INT24)))
    assert encode_global(rsp) == bytes.fromhex("01" "000025" "00042a")
    ext = f.DiscoverAttributesExtendedResponse(False, (
        f.ExtendedAttributeInformation(0x0011, T.ENUM8, 0x03),))
    assert encode_global(ext) == bytes.fromhex("00" "1100" "30" "03")
    assert decode_global(0x16, encode_global(ext)) == ext
    assert f.DiscoverCommandsGenerated(0, 10).encode() == b"\x00\x0a"
    dcr = f.DiscoverCommandsReceivedResponse(True, (0, 1, 9))
    assert encode_global(dcr) == b"\x01\x00\x01\x09"
    assert decode_global(0x12, b"\x01\x00\x01\x09") == dcr
    assert decode_global(0x14, b"\x00") == f.DiscoverCommandsGeneratedResponse(False, ())


def test_unknown_status_values_survive() -> None:
    rsp = decode_global(0x0B, b"\x00\x55")
    assert rsp.status == 0x55 and not isinstance(rsp.status, Status)
    assert decode_global(0x0B, b"\x00\x86").status is Status.UNSUPPORTED_ATTRIBUTE


@pytest.mark.parametrize("cmd, payload", [
    (0x00, b"\x00"), (0x01, b"\x00\x00\x00"), (0x01, b"\x00\x00\x00\x25\x01"),
    (0x01, b"\x00\x00\x00\x77\x01"), (0x02, b"\x00\x00\x42\x05ab"), (0x04, b""),
    (0x06, b"\x00\x00\x00\x25\x01\x00\x02\x00"), (0x06, b"\x02\x00\x00"),
    (0x06, b"\x00\x00\x00\x99\x01\x00\x02\x00"), (0x07, b"\x00\x00"), (0x08, b"\x00\x00"),
    (0x09, b"\x00\x01\x00\x00\x3c"), (0x0A, b"\x00\x00\x25\x01"), (0x0B, b"\x00"),
    (0x0C, b"\x00\x00"), (0x0D, b"\x01\x00\x00"), (0x0D, b""), (0x11, b"\x00"), (0x12, b""),
    (0x16, b"\x01\x00\x00\x20"), (0x0E, b""), (0x40, b""),
])
def test_malformed_payloads(cmd: int, payload: bytes) -> None:
    with pytest.raises(CodecError):
        decode_global(cmd, payload)


def test_encode_errors_are_codec_errors() -> None:
    for bad in [f.ReadAttributes((0x10000,)),
                f.ReadAttributesResponse((f.ReadAttributeStatusRecord(0, 0, T.UINT8, 300),)),
                f.ConfigureReporting((f.AttributeReportingConfigurationRecord(
                    0, 0, T.UINT8, 1, 2, None),)),
                f.ConfigureReporting((f.AttributeReportingConfigurationRecord(3, 0),)),
                f.DefaultResponse(0, 256)]:
        with pytest.raises(CodecError):
            encode_global(bad)


_COMMANDS = [(c.cluster_id, d, cmd_id) for c in clusters().values()
             for d in (0, 1) for cmd_id in c.commands(d)]


@settings(max_examples=1500, deadline=None, database=None)
@given(st.integers(0, 0x20), st.sampled_from(_COMMANDS), st.binary(max_size=40))
def test_garbage_raises_only_codec_error(global_id: int, command: tuple, data: bytes) -> None:
    """decode_zcl + every global command + every cluster command: only CodecError escapes
    (each example feeds the same octets to all three decoders)."""
    for decode in (lambda: decode_zcl(data), lambda: decode_global(global_id, data),
                   lambda: decode_command(*command, data)):
        try:
            decode()
        except CodecError:
            pass
