"""WAN frames in the pcapng, read back by tshark with tap/smwan.lua and Wireshark's GBCS dissector."""

from __future__ import annotations

import subprocess

from emulator.capture import PcapngWriter
from emulator.clock import VirtualClock
from emulator.impairments import ImpairmentSpec
from emulator.wan import SMWAN_PORT, EmulatedWan
from protocols.smwan.profiles import DEFAULT_PROFILES
from tests.smwan_helpers import LUA, require_tshark, rtds_messages

HUB_C = 0x00DB_1200_0001_0010
HUB_N = 0x00DB_1200_0002_0010


def _tshark(pcap, *args: str) -> str:
    proc = subprocess.run(["tshark", "-n", "-X", f"lua_script:{LUA}", "-o", "ip.check_checksum:TRUE",
                           "-o", "tcp.check_checksum:TRUE", "-r", str(pcap), *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Lua Error" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc.stdout


def test_tshark_decodes_wan_frames_and_gbcs_message_codes(tmp_path):
    require_tshark()
    commands = rtds_messages("COMMAND", 12)
    responses = rtds_messages("RESPONSE", 12)
    alerts = rtds_messages("ALERT", 6)
    pcap = tmp_path / "wan.pcapng"
    clock = VirtualClock()
    with PcapngWriter(open(pcap, "wb")) as writer:
        got_up = []
        centre = EmulatedWan(clock, DEFAULT_PROFILES["centre"], 2, lambda e, m: got_up.append(m), capture=writer)
        north = EmulatedWan(clock, DEFAULT_PROFILES["north"], 2, lambda e, m: got_up.append(m), capture=writer,
                            impairments=ImpairmentSpec(loss=0.05))
        hub_c = centre.add_hub(HUB_C, lambda m: None)
        hub_n = north.add_hub(HUB_N, lambda m: None)
        clock.run_until(10.0)
        for _, m, _ in commands:
            centre.gateway.send_down(HUB_C, m)
            north.gateway.send_down(HUB_N, m)
        for _, m, _ in responses + alerts:
            hub_c.send_up(m)
            hub_n.send_up(m)
        clock.run_until(3000.0)
    assert len(got_up) == 2 * (len(responses) + len(alerts))

    rows = [line.split("\t") for line in _tshark(
        pcap, "-T", "fields", "-E", "separator=\t", "-e", "frame.interface_name", "-e", "smwan.type",
        "-e", "smwan.flags.more_segments", "-e", "smwan.segment", "-e", "gbcs_message.grouping_header.message_code",
        "-e", "smwan.crc32_ok", "-e", "ip.checksum.status", "-e", "tcp.checksum.status",
        "-e", "tcp.analysis.flags", "-e", "_ws.malformed", "-e", "tcp.dstport", "-e", "tcp.srcport", "-e", "smwan.seq",
        "-e", "smwan.reassembled_length",
        "-Y", f"tcp.port == {SMWAN_PORT}").splitlines()]
    assert rows
    assert all(r[6] == "1" and r[7] == "1" for r in rows), "IP/TCP checksums must be good"
    assert not any(r[8] for r in rows), "clean TCP: no retransmission/out-of-order/lost-segment flags"
    assert not any(r[9] for r in rows), "no malformed frames"
    framed = [r for r in rows if r[1]]
    assert all(r[5] == "1" for r in framed), "every SMWAN CRC-32 good"
    types = {int(r[1]) for r in framed}
    assert types >= {1, 2, 4, 5}  # ATTACH, ATTACH_ACK, DATA, DATA_ACK
    malformed = _tshark(pcap, "-Y", "_ws.malformed || _ws.expert.severity == error")
    assert malformed.strip() == ""

    # Message codes shown by Wireshark's gbcs_message dissector, per direction, by sequence number
    # (jitter reorders frames on the link; retransmissions repeat a sequence number).
    def codes(iface: str, to_dcc: bool) -> dict[int, int]:
        port_col = 10 if to_dcc else 11
        out: dict[int, int] = {}
        for r in framed:
            if r[0] == iface and r[1] == "4" and r[4] and r[port_col] == str(SMWAN_PORT):
                assert out.setdefault(int(r[12]), int(r[4], 16)) == int(r[4], 16)
        return out

    down, up = codes("smwan-centre", False), codes("smwan-centre", True)
    assert [down[i] for i in range(len(commands))] == [code for _, _, code in commands]
    assert [up[i] for i in range(len(responses) + len(alerts))] == [code for _, _, code in responses + alerts]
    # North: small frames, so long messages are segmented; the dissector reassembles them and
    # Wireshark's gbcs_message decodes every one, whole or reassembled.
    north_frames = [r for r in framed if r[0] == "smwan-north" and r[1] == "4"]
    assert any(r[2] == "1" for r in north_frames), "north should segment long GBCS messages"
    north_down, north_up = codes("smwan-north", False), codes("smwan-north", True)
    assert [north_down[i] for i in range(len(commands))] == [code for _, _, code in commands]
    assert [north_up[i] for i in range(len(responses) + len(alerts))] == [code for _, _, code in responses + alerts]
    reassembled = [r for r in north_frames if r[13]]
    assert reassembled and all(r[4] for r in reassembled)


def test_tshark_flags_a_bad_crc_and_reads_detach(tmp_path):
    require_tshark()
    from emulator.capture import LINKTYPE_IPV4, TcpFlow
    from protocols.smwan.frames import DetachReason, Frame, FrameType, encode_frame

    good = encode_frame(Frame(FrameType.DETACH, HUB_C, payload=bytes([DetachReason.SHUTDOWN])))
    bad = bytearray(encode_frame(Frame(FrameType.KEEPALIVE, HUB_C, ack=3)))
    bad[-1] ^= 0x40
    pcap = tmp_path / "crc.pcapng"
    with PcapngWriter(open(pcap, "wb")) as writer:
        iface = writer.add_interface("smwan-test", "", LINKTYPE_IPV4, 65535)
        flow = TcpFlow(bytes([100, 64, 0, 1]), 50000, bytes([198, 51, 100, 1]), SMWAN_PORT, 1000, 2000)
        for i, packet in enumerate(flow.handshake() + [flow.segment(True, bytes(bad)), flow.segment(True, good)]):
            writer.write_packet(iface, float(i), packet)
    rows = [line.split("\t") for line in _tshark(
        pcap, "-T", "fields", "-E", "separator=\t", "-e", "smwan.type", "-e", "smwan.crc32_ok",
        "-e", "smwan.detach_reason", "-e", "smwan.eui64", "-Y", "smwan").splitlines()]
    assert rows == [["3", "0", "", "00:db:12:00:00:01:00:10"], ["6", "1", "1", "00:db:12:00:00:01:00:10"]]
    experts = _tshark(pcap, "-Y", "smwan.crc32.bad")
    assert experts.count("\n") == 1
