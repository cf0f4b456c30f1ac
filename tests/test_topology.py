"""Topology files: validation errors name the file and the line; defaults derive from the seed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from emulator.topology import TopologyError, load_topology, parse_topology
from tests.cli_helpers import TWISTD
from tests.han_helpers import SINGLE_HOME

GOOD = """\
name: t
homes:
  - name: h1
    han:
      channel: 20
    devices:
      - {kind: CH, name: ch}
      - {kind: ESME, name: esme}
"""


def _error(text: str) -> TopologyError:
    with pytest.raises(TopologyError) as info:
        parse_topology(text, "bad.yaml", 1)
    return info.value


def test_shipped_topology_loads() -> None:
    """The single-home topology has a CH, ESME, GSME and IHD with the pinned RTDS-style EUI-64s."""
    topo = load_topology(str(SINGLE_HOME), 1)
    home = topo.homes[0]
    assert [d.kind for d in home.devices] == ["CH", "ESME", "GSME", "IHD"]
    assert home.devices[0].eui64 == 0x00DB1234567890A2 and home.devices[0].gpf_eui64 == 0x00DB1234567890A3
    assert home.channel == 15 and len(home.network_key) == 16
    assert all(d.registered_install_code == d.install_code for d in home.devices[1:])


def test_defaults_follow_the_seed() -> None:
    """Keys and PAN ids derive from the seed: same seed same values, other seed other values."""
    a, b, c = (parse_topology(GOOD, "t.yaml", s).homes[0] for s in (1, 1, 2))
    assert a.network_key == b.network_key and a.pan_id == b.pan_id
    assert a.network_key != c.network_key
    assert a.devices[1].install_code != c.devices[1].install_code
    assert a.devices[0].eui64 != a.devices[1].eui64


@pytest.mark.parametrize("text, line, words", [
    (GOOD.replace("channel: 20", "channel: 27"), 5, "channel must be 11-26"),
    (GOOD.replace("channel: 20", "chanel: 20"), 5, "unknown key 'chanel'"),
    (GOOD.replace("{kind: ESME, name: esme}", "{kind: XYZ, name: esme}"), 8, "'XYZ' is not a device kind"),
    (GOOD.replace("{kind: ESME, name: esme}", "{kind: ESME, name: ch}"), 8, "duplicate device name 'ch'"),
    (GOOD.replace("{kind: ESME, name: esme}", "{kind: ESME, eui64: '00DB12'}"), 8, "eui64 must be 8 bytes"),
    (GOOD.replace("{kind: ESME, name: esme}", "{kind: ESME, wake_interval: 5}"), 8, "unknown key 'wake_interval'"),
    (GOOD.replace("{kind: ESME, name: esme}", "{kind: CH, name: ch2}"), 6, "exactly one CH"),
    (GOOD.replace("      channel: 20", "      channel: 20\n      impairments: {loss: 1.5}"), 6, "loss"),
    (GOOD.replace("      channel: 20", "      channel: 20\n      impairments: {losss: 0.1}"), 6, "losss"),
    (GOOD.replace("name: t", "name: t\nstart_time: yesterday"), 2, "start_time must be an ISO 8601"),
    (GOOD.replace("    devices:", "    devices: [\n"), 8, "invalid YAML"),
    ("homes: []\n", 1, "non-empty list"),
    ("", 1, "empty"),
])
def test_errors_name_file_and_line(text: str, line: int, words: str) -> None:
    """Every invalid topology is reported as file:line: message, pointing at the culprit."""
    err = _error(text)
    assert err.filename == "bad.yaml"
    assert err.line == line, str(err)
    assert words in err.message, str(err)
    assert str(err).startswith(f"bad.yaml:{line}: ")


def test_twistd_reports_topology_errors(tmp_path: Path) -> None:
    """twistd exits non-zero with the file:line message for a bad topology (nothing runs)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("channel: 20", "channel: 99"))
    proc = subprocess.run([*TWISTD, "-n", "--pidfile=", "smets", "--topology", str(bad), "--virtual",
                           "--duration", "10"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{bad}:5: home 'h1'.han.channel must be 11-26 (2.4 GHz), got 99" in proc.stdout + proc.stderr


def test_missing_file() -> None:
    """A topology path that cannot be read is an error naming the file."""
    with pytest.raises(TopologyError) as info:
        load_topology("/nonexistent/topology.yaml", 1)
    assert str(info.value).startswith("/nonexistent/topology.yaml:0: cannot read topology")
