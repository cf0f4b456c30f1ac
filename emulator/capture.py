"""pcapng capture writer: every frame on an emulated medium or link, for Wireshark.

Implements the capture part of issue 2 (item 5) and DESIGN.md ("every byte that crosses a link
can go to a capture sink"), in the pcapng format (IETF draft-ietf-opsawg-pcapng): one Section
Header Block, one Interface Description Block per medium/link, Enhanced Packet Blocks with
nanosecond timestamps taken from the emulated clock.  For the HAN the link type is 195
(LINKTYPE_IEEE802_15_4_WITHFCS: the MPDU with its 2-byte FCS, see the HAN spec notes 1.3).

The output is deterministic: the section header carries no hardware, OS or wall-clock
fields (only C{shb_userappl} = "smets-emulator"), so the same run gives byte-identical files.
Blocks are written little-endian.  Interfaces may be added after packets were written (pcapng
allows an IDB anywhere in its section).
"""

from __future__ import annotations

import math
import struct
from typing import BinaryIO, Protocol, runtime_checkable

from protocols.inet import LINKTYPE_IPV4, internet_checksum

__all__ = ["CaptureSink", "TeeSink", "PcapngWriter", "LINKTYPE_IEEE802_15_4_WITHFCS", "LINKTYPE_IPV4", "TcpFlow",
           "ipv4_tcp_packet", "internet_checksum"]

#: pcap link type: IEEE 802.15.4 MPDU followed by its 2-byte FCS
LINKTYPE_IEEE802_15_4_WITHFCS = 195

_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D

_OPT_ENDOFOPT = 0
_OPT_COMMENT = 1
_SHB_USERAPPL = 4
_IF_NAME = 2
_IF_DESCRIPTION = 3
_IF_TSRESOL = 9

_U32 = struct.Struct("<I")
_EPB_HEAD = struct.Struct("<IIIIIII")  # type, total len, if id, ts high, ts low, cap len, orig len
_OPT_HEAD = struct.Struct("<HH")

_BUFFER_LIMIT = 1 << 16


@runtime_checkable
class CaptureSink(Protocol):
    """Where media and links send the frames they carry.

    L{add_interface} registers one interface (a medium or link) and returns its id;
    L{capture} records one frame seen on it at emulated time C{time_s}.
    """

    def add_interface(self, name: str, description: str = "",
                      linktype: int = LINKTYPE_IEEE802_15_4_WITHFCS, snaplen: int = 256) -> int:
        """Register an interface; return its id."""

    def capture(self, interface_id: int, time_s: float, data: bytes) -> None:
        """Record one frame."""


class TeeSink:
    """A L{CaptureSink} that hands every frame to several sinks (a pcapng and a live TAP, say).

    Each sink keeps its own interface ids: L{add_interface} registers the interface with every
    sink and returns this tee's own id for it.
    """

    def __init__(self, *sinks: CaptureSink) -> None:
        self.sinks = sinks
        self._ids: list[tuple[int, ...]] = []

    def add_interface(self, name: str, description: str = "",
                      linktype: int = LINKTYPE_IEEE802_15_4_WITHFCS, snaplen: int = 256) -> int:
        self._ids.append(tuple(sink.add_interface(name, description, linktype, snaplen) for sink in self.sinks))
        return len(self._ids) - 1

    def capture(self, interface_id: int, time_s: float, data: bytes) -> None:
        for sink, sink_id in zip(self.sinks, self._ids[interface_id]):
            sink.capture(sink_id, time_s, data)


def _pad4(n: int) -> int:
    return (4 - n % 4) % 4


def _option(code: int, value: bytes) -> bytes:
    return _OPT_HEAD.pack(code, len(value)) + value + b"\x00" * _pad4(len(value))


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return _U32.pack(block_type) + _U32.pack(total) + body + _U32.pack(total)


class PcapngWriter:
    """Buffered, deterministic pcapng writer (also a L{CaptureSink}).

    @param fileobj: a binary file object; L{close} flushes and closes it.
    """

    def __init__(self, fileobj: BinaryIO) -> None:
        self._file = fileobj
        self._buf: list[bytes] = []
        self._buffered = 0
        self._interfaces: list[tuple[str, int, int]] = []  # (name, linktype, snaplen)
        self._closed = False
        options = _option(_SHB_USERAPPL, b"smets-emulator") + _option(_OPT_ENDOFOPT, b"")
        body = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1) + options
        self._append(_block(_SHB, body))

    @property
    def interfaces(self) -> list[str]:
        """Names of the interfaces added so far, by id."""
        return [name for name, _, _ in self._interfaces]

    def _append(self, data: bytes) -> None:
        if self._closed:
            raise ValueError("pcapng writer is closed")
        self._buf.append(data)
        self._buffered += len(data)
        if self._buffered >= _BUFFER_LIMIT:
            self.flush()

    def add_interface(self, name: str, description: str = "",
                      linktype: int = LINKTYPE_IEEE802_15_4_WITHFCS, snaplen: int = 256) -> int:
        """Write an Interface Description Block; return the new interface id (0, 1, ...).

        Options: C{if_name}, C{if_description} (when not empty) and C{if_tsresol} = 9
        (timestamps in nanoseconds).
        """
        if not 0 <= linktype <= 0xFFFF:
            raise ValueError(f"linktype must fit 16 bits, got {linktype!r}")
        if not 0 <= snaplen <= 0xFFFFFFFF:
            raise ValueError(f"snaplen must fit 32 bits, got {snaplen!r}")
        options = _option(_IF_NAME, name.encode("utf-8"))
        if description:
            options += _option(_IF_DESCRIPTION, description.encode("utf-8"))
        options += _option(_IF_TSRESOL, b"\x09") + _option(_OPT_ENDOFOPT, b"")
        body = struct.pack("<HHI", linktype, 0, snaplen) + options
        self._append(_block(_IDB, body))
        self._interfaces.append((name, linktype, snaplen))
        return len(self._interfaces) - 1

    def write_packet(self, interface_id: int, time_s: float, data: bytes,
                     comment: str | None = None) -> None:
        """Write one Enhanced Packet Block.

        @param interface_id: an id returned by L{add_interface}.
        @param time_s: emulated time in seconds; stored as C{round(time_s * 1e9)} ns.
        @param data: the frame (truncated to the interface's snaplen; the original length is
            kept).
        @param comment: optional C{opt_comment}.
        """
        if not (isinstance(interface_id, int) and 0 <= interface_id < len(self._interfaces)):
            raise ValueError(f"unknown interface id {interface_id!r}")
        snaplen = self._interfaces[interface_id][2]
        if not (time_s >= 0.0 and math.isfinite(time_s)):
            raise ValueError(f"time_s must be a finite time >= 0, got {time_s!r}")
        ts = round(time_s * 1e9)
        orig = len(data)
        captured = data if orig <= snaplen or snaplen == 0 else data[:snaplen]
        cap = len(captured)
        pad = _pad4(cap)
        options = b""
        if comment:
            options = _option(_OPT_COMMENT, comment.encode("utf-8")) + _option(_OPT_ENDOFOPT, b"")
        total = 32 + cap + pad + len(options)
        self._append(b"".join((
            _EPB_HEAD.pack(_EPB, total, interface_id, ts >> 32, ts & 0xFFFFFFFF, cap, orig),
            captured, b"\x00" * pad, options, _U32.pack(total))))

    def capture(self, interface_id: int, time_s: float, data: bytes) -> None:
        """L{CaptureSink} entry point: same as L{write_packet} without a comment."""
        self.write_packet(interface_id, time_s, data)

    def flush(self) -> None:
        """Write buffered blocks to the file and flush it."""
        if self._buf:
            self._file.write(b"".join(self._buf))
            self._buf.clear()
            self._buffered = 0
        if hasattr(self._file, "flush"):
            self._file.flush()

    def close(self) -> None:
        """Flush and close the file.  Further writes raise C{ValueError}."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._file.close()

    def __enter__(self) -> "PcapngWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- IPv4/TCP framing for captured WAN traffic (the SMWAN, issue 9 item 5) ----------------------

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_PSH = 0x08
TCP_ACK = 0x10

_IPV4_HEAD = struct.Struct(">BBHHHBBH4s4s")
_TCP_HEAD = struct.Struct(">HHIIBBHHH")


def ipv4_tcp_packet(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
                    payload: bytes = b"", *, ident: int = 0, ttl: int = 64, window: int = 65535) -> bytes:
    """One IPv4 packet (RFC 791, no options, DF set) carrying one TCP segment (RFC 9293, no options).

    Both checksums are computed (the TCP one over the IPv4 pseudo-header), so Wireshark with
    checksum validation on finds nothing to complain about.
    """
    if len(src) != 4 or len(dst) != 4:
        raise ValueError("IPv4 addresses are 4 octets")
    tcp_len = 20 + len(payload)
    tcp = _TCP_HEAD.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF if flags & TCP_ACK else 0,
                         5 << 4, flags, window, 0, 0) + payload
    pseudo = src + dst + struct.pack(">BBH", 0, 6, tcp_len)
    csum = internet_checksum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack(">H", csum) + tcp[18:]
    total = 20 + tcp_len
    if total > 0xFFFF:
        raise ValueError(f"IPv4 packet of {total} octets is too long")
    head = _IPV4_HEAD.pack(0x45, 0, total, ident & 0xFFFF, 0x4000, ttl, 6, 0, src, dst)
    head = head[:10] + struct.pack(">H", internet_checksum(head)) + head[12:]
    return head + tcp


class TcpFlow:
    """The sequence and acknowledgement numbers of one synthetic TCP connection in a capture.

    Frames carried by an emulated (message-level) link are shown as the payload of a clean TCP
    connection: a three-way handshake before the first one, then each frame as one PSH/ACK
    segment whose sequence number continues its direction's byte stream and whose
    acknowledgement covers everything the other side sent.
    """

    __slots__ = ("client", "server", "client_port", "server_port", "_seq", "_ident", "opened")

    def __init__(self, client: bytes, client_port: int, server: bytes, server_port: int,
                 client_isn: int, server_isn: int) -> None:
        self.client = client
        self.server = server
        self.client_port = client_port
        self.server_port = server_port
        self._seq = [client_isn & 0xFFFFFFFF, server_isn & 0xFFFFFFFF]  # next seq per direction
        self._ident = [client_isn & 0xFFFF, server_isn & 0xFFFF]
        self.opened = False

    def _packet(self, from_client: bool, flags: int, payload: bytes, syn_fin: int = 0) -> bytes:
        i = 0 if from_client else 1
        seq, ack = self._seq[i], self._seq[1 - i]
        self._seq[i] = (seq + len(payload) + syn_fin) & 0xFFFFFFFF
        self._ident[i] = (self._ident[i] + 1) & 0xFFFF
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        sport, dport = ((self.client_port, self.server_port) if from_client
                        else (self.server_port, self.client_port))
        return ipv4_tcp_packet(src, dst, sport, dport, seq, ack, flags, payload, ident=self._ident[i])

    def handshake(self) -> list[bytes]:
        """SYN, SYN/ACK, ACK (call once, before the first L{segment})."""
        self.opened = True
        return [self._packet(True, TCP_SYN, b"", 1), self._packet(False, TCP_SYN | TCP_ACK, b"", 1),
                self._packet(True, TCP_ACK, b"")]

    def segment(self, from_client: bool, payload: bytes) -> bytes:
        """One PSH/ACK segment carrying C{payload} in the given direction."""
        return self._packet(from_client, TCP_PSH | TCP_ACK, payload)
