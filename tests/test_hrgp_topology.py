"""The topology options of GBCS over the tunnel: scheduled commands and the CH's tunnel settings.

Each mistake gives one error naming the file, the line and the option.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from emulator.topology import TopologyError, parse_topology
from tests.gbcs_helpers import KEYSTORE, RTDS
from tests.han_helpers import SINGLE_HOME, single_home_text

needs_rtds = pytest.mark.skipif(not RTDS.is_dir() and not os.environ.get("CI"), reason="shared RTDS data not present")
MESSAGE = "DF09010000000000000001" + "0890B3D51F30000002" + "0800DB1234567890A0" + "00" + "020028" + "0100" + "00"


def home(commands: str = "", ch: str = "") -> str:
    return f"""\
name: t
homes:
  - name: h1
{commands}    devices:
      - {{kind: CH, name: ch{ch}}}
      - {{kind: ESME, name: esme}}
"""


def error(text: str, filename: str = "bad.yaml") -> TopologyError:
    with pytest.raises(TopologyError) as info:
        parse_topology(text, filename, 1)
    return info.value


def test_hex_and_file_commands(tmp_path: Path) -> None:
    (tmp_path / "cmd.HEX").write_text(MESSAGE.lower() + "\n")
    text = home(f"    gbcs_commands:\n      - {{at: 5, hex: '{MESSAGE}'}}\n      - {{at: 7.5, file: cmd.HEX}}\n")
    topo = parse_topology(text, str(tmp_path / "t.yaml"), 1)
    [a, b] = topo.homes[0].gbcs_commands
    assert (a.at, a.message, a.source) == (5.0, bytes.fromhex(MESSAGE), "hex")
    assert (b.at, b.message, b.source) == (7.5, bytes.fromhex(MESSAGE), str(tmp_path / "cmd.HEX"))


@pytest.mark.parametrize("entry, line, words", [
    ("{at: 5}", 5, "exactly one of 'file'"),
    (f"{{hex: '{MESSAGE}'}}", 5, "has no 'at'"),
    (f"{{at: -1, hex: '{MESSAGE}'}}", 5, "at must be >= 0"),
    ("{at: 1, hex: 'DD0'}", 5, "not hex octets"),
    ("{at: 1, hex: '300100'}", 5, "not a GBCS message: tag at offset 0"),
    ("{at: 1, file: nowhere.HEX}", 5, "cannot read 'nowhere.HEX'"),
    (f"{{at: 1, hex: '{MESSAGE}', when: 3}}", 5, "unknown key 'when'"),
])
def test_bad_commands_name_the_line(entry: str, line: int, words: str) -> None:
    e = error(home(f"    gbcs_commands:\n      - {entry}\n"))
    assert e.line == line and words in e.message and "gbcs_commands[0]" in e.message, str(e)


def test_ch_tunnel_options() -> None:
    topo = parse_topology(home(ch=", close_tunnel_timeout: 600, tunnel_queue_limit: 4, tunnel_queue_expiry: 3600"),
                          "t.yaml", 1)
    assert topo.homes[0].devices[0].params == {"close_tunnel_timeout": 600, "tunnel_queue_limit": 4,
                                               "tunnel_queue_expiry": 3600}
    e = error(home(ch=", tunnel_queue_limit: 0"))
    assert "tunnel_queue_limit must be positive" in e.message
    e = error(home(ch=", gbcs_keys: /nonexistent/keys"))
    assert "gbcs_keys" in e.message and "not a key store directory" in e.message
    e = error(home(ch=", tunnel_queue_limit: 2.5"))
    assert "tunnel_queue_limit must be int" in e.message


@needs_rtds
def test_key_store_path_is_relative_to_the_topology(tmp_path: Path) -> None:
    link = tmp_path / "keys"
    link.symlink_to(KEYSTORE)
    topo = parse_topology(home(ch=", gbcs_keys: keys"), str(tmp_path / "t.yaml"), 1)
    assert topo.homes[0].devices[0].params["gbcs_keys"] == str(link)


def test_twistd_reports_a_bad_command_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(single_home_text().replace("      - at: 120 ", "      - at: -120 ", 1))
    proc = subprocess.run(["twistd", "-n", "--pidfile=", "smets", "--topology", str(bad), "--virtual",
                           "--duration", "10"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "gbcs_commands[1].at" in line]
    assert len(lines) == 1 and "must be >= 0" in lines[0] and "bad.yaml:" in lines[0], proc.stdout + proc.stderr
