"""C{--tap-han}: command-line checks and the privilege / device preconditions, without a kernel TAP."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.python import usage

from emulator.service import Options
from tap.linux import tap_problem, valid_ifname
from tests.han_helpers import SINGLE_HOME

TWO_HOMES = """\
name: street
homes:
  - name: no-1
    devices: [{kind: CH, name: ch}, {kind: ESME, name: esme}]
  - name: no-2
    devices: [{kind: CH, name: ch}, {kind: ESME, name: esme}]
"""


@pytest.mark.parametrize("args, words", [
    (["--tap-han", "home-0001"], "--tap-han: expects HOME=IFNAME, got 'home-0001'"),
    (["--tap-han", "=tap0"], "--tap-han: expects HOME=IFNAME"),
    (["--tap-han", "home-0001=a/b"], "'a/b' is not a valid interface name"),
    (["--tap-han", "home-0001=" + "x" * 16], "is not a valid interface name"),
    (["--tap-han", "home-0001=tap0", "--virtual", "--duration", "10"], "--tap-han: needs real time"),
    (["--tap-han", "home-9=tap0"], "--tap-han: no home named 'home-9' in the topology \\(homes: home-0001\\)"),
])
def test_bad_tap_options(args: list[str], words: str) -> None:
    with pytest.raises(usage.UsageError, match=words):
        Options().parseOptions(["--topology", str(SINGLE_HOME), *args])


def test_duplicates_are_refused(tmp_path: Path) -> None:
    topo = tmp_path / "two.yaml"
    topo.write_text(TWO_HOMES)
    with pytest.raises(usage.UsageError, match="interface 'tap0' given more than once"):
        Options().parseOptions(["--topology", str(topo), "--tap-han", "no-1=tap0", "--tap-han", "no-2=tap0"])
    with pytest.raises(usage.UsageError, match="home 'no-1' given more than once"):
        Options().parseOptions(["--topology", str(topo), "--tap-han", "no-1=tap0", "--tap-han", "no-1=tap1"])


def test_no_tap_means_no_check() -> None:
    opts = Options()
    opts.parseOptions(["--topology", str(SINGLE_HOME)])
    assert opts["tap-han"] == []


def _status(tmp_path: Path, capeff: int) -> str:
    path = tmp_path / "status"
    path.write_text(f"Name:\tpython\nCapInh:\t0000000000000000\nCapEff:\t{capeff:016x}\n")
    return str(path)


def test_missing_tun_device_is_one_line(tmp_path: Path) -> None:
    msg = tap_problem(tun_path=str(tmp_path / "no-tun"), status_path=_status(tmp_path, 1 << 12))
    assert msg is not None and "\n" not in msg
    assert msg.startswith("--tap-han: ") and "is missing" in msg and "modprobe tun" in msg
    regular_file = tmp_path / "tun"
    regular_file.write_text("")
    assert "is missing" in tap_problem(tun_path=str(regular_file), status_path=_status(tmp_path, 1 << 12))


def test_missing_capability_is_one_line(tmp_path: Path) -> None:
    everything_but = (1 << 41) - 1 & ~(1 << 12)
    msg = tap_problem(tun_path="/dev/null", status_path=_status(tmp_path, everything_but))
    assert msg is not None and "\n" not in msg
    assert "needs root or CAP_NET_ADMIN" in msg and "sudo" in msg
    # a character device, the capability and read-write access: nothing missing
    assert tap_problem(tun_path="/dev/null", status_path=_status(tmp_path, 1 << 12)) is None


@pytest.mark.parametrize("name, ok", [("tap0", True), ("smets-home-0001", True), ("smets-home-00001", False),
                                      ("a b", False), ("x:1", False), ("", False), ("..", False), ("han_1", True)])
def test_interface_names(name: str, ok: bool) -> None:
    assert valid_ifname(name) is ok
