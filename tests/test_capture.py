"""Tests for L{emulator.capture.PcapngWriter}: files checked by tshark (interface names,
nanosecond times, FCS status of IEEE 802.15.4 frames whose FCS the test computes itself), by
scapy's independent pcapng reader, and against the section header laid out by hand from the
pcapng specification; plus byte-identical output for identical runs."""

from __future__ import annotations

import io
import socket
import struct
import subprocess

import pytest

from emulator.capture import PcapngWriter
from tests.conftest import needs_tshark


def crc16_kermit(data: bytes) -> int:
    """CRC-16/KERMIT (IEEE 802.15.4 FCS), bit by bit: reflected poly 0x8408, init 0."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def with_fcs(mpdu: bytes) -> bytes:
    return mpdu + crc16_kermit(mpdu).to_bytes(2, "little")


ACK = with_fcs(bytes.fromhex("02002a"))                                  # MAC Ack, seq 42
BEACON_REQ = with_fcs(bytes.fromhex("0308" "e1" "ffff" "ffff" "07"))        # Beacon Request, seq 0xe1
DATA = with_fcs(bytes.fromhex("4188" "10" "3412" "ffff" "0000") + b"\x08\x10payload")  # broadcast data


def test_crc_check_value():
    assert crc16_kermit(b"123456789") == 0x2189


def _write(fileobj) -> PcapngWriter:
    w = PcapngWriter(fileobj)
    home1 = w.add_interface("home-1", "IEEE 802.15.4 channel 11: home-1")
    w.write_packet(home1, 0.0, BEACON_REQ)
    w.write_packet(home1, 1.000000001, ACK, comment="first ack")
    home2 = w.add_interface("home-2")     # added after packets were written
    w.capture(home2, 2.5, DATA)
    bad = bytearray(ACK)
    bad[-1] ^= 0x01
    w.write_packet(home2, 3600.123456789, bytes(bad))
    w.write_packet(home1, 86400.25, DATA)
    return w


def test_section_header_laid_out_by_hand():
    buf = io.BytesIO()
    PcapngWriter(buf).flush()
    userappl = b"smets-emulator"                      # 14 bytes, padded to 16
    options = struct.pack("<HH", 4, 14) + userappl + b"\0\0" + struct.pack("<HH", 0, 0)
    length = 4 + 4 + 4 + 2 + 2 + 8 + len(options) + 4
    expected = (bytes.fromhex("0a0d0d0a") + struct.pack("<I", length) + bytes.fromhex("4d3c2b1a")
                + bytes.fromhex("0100" "0000") + b"\xff" * 8 + options + struct.pack("<I", length))
    assert buf.getvalue() == expected
    assert socket.gethostname().encode() not in expected


def test_byte_identical_runs_and_blocks_aligned(tmp_path):
    a, b = io.BytesIO(), io.BytesIO()
    _write(a).flush()
    _write(b).flush()
    assert a.getvalue() == b.getvalue()
    data = a.getvalue()
    off, blocks = 0, []
    while off < len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        assert blen % 4 == 0 and struct.unpack_from("<I", data, off + blen - 4)[0] == blen
        blocks.append(btype)
        off += blen
    assert off == len(data)
    assert blocks == [0x0A0D0D0A, 1, 6, 6, 1, 6, 6, 6]


def test_scapy_reads_it(tmp_path):
    from scapy.utils import PcapNgReader

    path = tmp_path / "cap.pcapng"
    _write(open(path, "wb")).close()
    with PcapNgReader(str(path)) as reader:
        pkts = list(reader)
    assert [bytes(p) for p in pkts][:3] == [BEACON_REQ, ACK, DATA]
    assert [str(p.time) for p in pkts][:2] == ["0", "1.000000001"]


@needs_tshark
def test_tshark_names_times_and_fcs(tmp_path):
    path = tmp_path / "cap.pcapng"
    _write(open(path, "wb")).close()
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.interface_name",
         "-e", "frame.time_epoch", "-e", "wpan.fcs_ok", "-e", "frame.comment",
         "-e", "wpan.frame_type", "-e", "wpan.seq_no"],
        capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows == [
        ["home-1", "0.000000000", "1", "", "0x0003", "225"],   # MAC command (beacon request)
        ["home-1", "1.000000001", "1", "first ack", "0x0002", "42"],
        ["home-2", "2.500000000", "1", "", "0x0001", "16"],
        ["home-2", "3600.123456789", "0", "", "0x0002", "42"],
        ["home-1", "86400.250000000", "1", "", "0x0001", "16"],
    ]


@needs_tshark
def test_medium_capture_decodes(tmp_path):
    """The HAN medium's own capture interface, read back by tshark."""
    from emulator.clock import VirtualClock
    from emulator.medium import HanMedium

    path = tmp_path / "han.pcapng"
    writer = PcapngWriter(open(path, "wb"))
    clock = VirtualClock(start=1_700_000_000.0)
    medium = HanMedium(clock, 1, "home-1", channel=15, capture=writer, interface_name="han-home-1")
    port = medium.attach("CH", type("R", (), {"frame_received": lambda self, p: None})())
    port.transmit(DATA)
    clock.advance(0.5)
    port.transmit(ACK)
    clock.run_until_idle()
    writer.close()
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.interface_name",
         "-e", "frame.interface_description", "-e", "frame.time_epoch", "-e", "wpan.fcs_ok"],
        capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "han-home-1\tIEEE 802.15.4 2.4 GHz O-QPSK channel 15: home-1\t1700000000.000000000\t1",
        "han-home-1\tIEEE 802.15.4 2.4 GHz O-QPSK channel 15: home-1\t1700000000.500000000\t1",
    ]


def test_errors():
    w = PcapngWriter(io.BytesIO())
    with pytest.raises(ValueError):
        w.write_packet(0, 0.0, b"x")
    i = w.add_interface("x")
    with pytest.raises(ValueError):
        w.write_packet(i, -1.0, b"x")
    with pytest.raises(ValueError):
        w.write_packet(-1, 0.0, b"x")
    w.close()
    with pytest.raises(ValueError):
        w.write_packet(i, 0.0, b"x")
