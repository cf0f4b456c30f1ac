"""Linux TAP interfaces for the bridges: the thin Twisted adapter and its preconditions.

The TAP is opened with C{twisted.pair.tuntap.TuntapPort} (the kernel's C{/dev/net/tun} with
C{TUNSETIFF}, C{IFF_TAP | IFF_NO_PI}): it already is a non-blocking reactor file descriptor
that reads whole Ethernet frames and writes one frame per C{write}, so no ioctl code of ours is
needed for the data path.  An interface of that name is created if it does not exist (and
disappears when the emulator exits), or an existing persistent TAP (C{ip tuntap add dev IF mode
tap}) is attached.  L{set_link_up} brings it up (C{SIOCSIFFLAGS}), as C{ip link set IF up} would.

Both need C{CAP_NET_ADMIN}: L{tap_problem} says beforehand, in one line, what is missing and
how to run the emulator instead.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat
import struct
from typing import Callable

from twisted.internet.protocol import AbstractDatagramProtocol
from twisted.pair.ethernet import IEthernetProtocol
from zope.interface import implementer

__all__ = ["TUN_PATH", "tap_problem", "open_error_hint", "valid_ifname", "set_link_up", "TapEthernetProtocol", "open_tap"]

TUN_PATH = "/dev/net/tun"
_CAP_NET_ADMIN = 12
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFNAMSIZ = 16


def _effective_caps(status_path: str) -> int | None:
    try:
        with open(status_path, encoding="ascii") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        return None
    return None


def tap_problem(option: str = "--tap-han", tun_path: str = TUN_PATH,
                status_path: str = "/proc/self/status") -> str | None:
    """Why this process cannot open a TAP interface (one line naming C{option}), or C{None}."""
    try:
        st = os.stat(tun_path)
    except OSError:
        st = None
    if st is None or not stat.S_ISCHR(st.st_mode):
        return (f"{option}: {tun_path} is missing, so no TAP interface can be opened: load the tun "
                f"module (sudo modprobe tun) or, in a container, pass the device "
                f"(docker run --device /dev/net/tun --cap-add NET_ADMIN ...)")
    caps = _effective_caps(status_path)
    if caps is None or not caps >> _CAP_NET_ADMIN & 1:
        return (f"{option}: opening a TAP interface needs root or CAP_NET_ADMIN, which this process "
                f"lacks: run twistd as root (sudo twistd -n smets ...), in a network namespace "
                f"(sudo ip netns exec NS twistd -n smets ...) or with the capability "
                f"(sudo setcap cap_net_admin+ep on the Python interpreter)")
    if not os.access(tun_path, os.R_OK | os.W_OK):
        return (f"{option}: {tun_path} is not readable and writable by this user: run twistd as root "
                f"(sudo twistd -n smets ...)")
    return None


_OPEN_HINTS = {
    errno.EINVAL: "an interface of that name exists and is not a TAP (ip -d link show IFNAME)",
    errno.EBUSY: "the TAP is already open in another process",
    errno.EPERM: "this needs root or CAP_NET_ADMIN",
    errno.EACCES: "this needs root or CAP_NET_ADMIN",
    errno.ENOENT: f"{TUN_PATH} is missing (sudo modprobe tun)",
    errno.ENODEV: f"{TUN_PATH} is missing (sudo modprobe tun)",
}


def open_error_hint(error: BaseException) -> str:
    """A short explanation of why opening a TAP failed (C{" (...)"}), or C{""}."""
    hint = _OPEN_HINTS.get(getattr(error, "errno", None))
    return f" ({hint})" if hint else ""


def valid_ifname(name: str) -> bool:
    """Whether C{name} can be a Linux interface name (1-15 bytes, no '/', ':' or whitespace)."""
    raw = name.encode("utf-8", "replace")
    return (0 < len(raw) < _IFNAMSIZ and name not in (".", "..")
            and not any(c in name for c in "/:") and not any(c.isspace() for c in name))


def set_link_up(name: str) -> None:
    """Bring interface C{name} up (in this process's network namespace).

    @raise OSError: no such interface, or no CAP_NET_ADMIN.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH22x", name.encode(), 0)
        flags = struct.unpack_from("16sH", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, ifreq))[1]
        if not flags & _IFF_UP:
            fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH22x", name.encode(), flags | _IFF_UP))


@implementer(IEthernetProtocol)
class TapEthernetProtocol(AbstractDatagramProtocol):
    """Hands every Ethernet frame read from the TAP to C{deliver} (the bridge)."""

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
        self.deliver = deliver

    def datagramReceived(self, datagram: bytes, partial: int = 0) -> None:  # noqa: N802 (Twisted's name)
        self.deliver(datagram)

    def addProto(self, num, proto) -> None:  # noqa: N802 (IEthernetProtocol)
        raise NotImplementedError("the TAP bridge hands whole frames to one consumer")


def open_tap(name: str, deliver: Callable[[bytes], None], reactor):
    """Open (or create) TAP interface C{name}, bring it up, and start reading frames into
    C{deliver}.  Return the listening C{TuntapPort} (its C{write} sends one frame).

    @raise twisted.internet.error.CannotListenError: the TAP could not be opened.
    @raise OSError: the interface could not be brought up.
    """
    from twisted.pair.tuntap import TuntapPort

    port = TuntapPort(name.encode(), TapEthernetProtocol(deliver), reactor=reactor)
    port.startListening()
    try:
        set_link_up(name)
    except OSError:
        port.stopListening()
        raise
    return port
