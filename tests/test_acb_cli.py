"""C{smets duis transform}: output against the RTDS files, usage errors as one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.acb_cli import device_types_from_topology, main

from .acb_helpers import KEYSTORE, RTDS, TEMPLATES, need_shared, read_hex

TOPOLOGY = str(Path(__file__).resolve().parent.parent / "topologies" / "single-home.yaml")


def run(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_non_critical_command_is_the_rtds_command_byte_for_byte(capsys):
    """GMAC is deterministic: with the RTDS keys the whole command, MAC included, matches."""
    t = need_shared(TEMPLATES / "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML")
    rc, out, err = run(capsys, t, "--topology", TOPOLOGY, "--keys", need_shared(KEYSTORE))
    assert rc == 0, err
    assert bytes.fromhex(out.strip()) == read_hex(RTDS / "4.16_ECS17c" / "ECS17c_4.16_SUCCESS_COMMAND_GBCS.HEX")
    assert "ECS17c" in err


def test_critical_request_prints_the_rtds_precommand(capsys):
    t = need_shared(TEMPLATES / "ECS01d_1.2.2_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML")
    rc, out, err = run(capsys, t, "--device-type", "ESME", "--keys", need_shared(KEYSTORE))
    assert rc == 0, err
    assert bytes.fromhex(out.strip()) == read_hex(
        RTDS / "1.2.2_ECS01d" / "ECS01d_1.2.2_FUTURE_DATED_SUCCESS_PRECOMMAND_GBCS.HEX")
    assert "pre-command" in err


def test_topology_device_types():
    types = device_types_from_topology(TOPOLOGY)
    assert types[0x00DB1234567890A2] == "CHF" and types[0x00DB1234567890A3] == "GPF"
    assert types[0x00DB1234567890A0] == "ESME" and types[0x00DB1234567890A1] == "GSME"


@pytest.mark.parametrize("args, option", [
    (["--keys", "KEYS"], "--topology"),                                  # no device type
    (["--device-type", "ESME"], "--keys"),                              # no key store
    (["--device-type", "ESME", "--keys", "/nonexistent"], "--keys"),
    (["--device-type", "ESME", "--keys", "KEYS", "--now", "yesterday"], "--now"),
    (["--device-type", "ESME", "--keys", "KEYS", "--acb", "12"], "--acb"),
    (["--device-type", "TOASTER", "--keys", "KEYS"], "--device-type"),
    (["--topology", "/nonexistent.yaml", "--keys", "KEYS"], "--topology"),
])
def test_usage_mistakes_are_one_line_naming_the_option(capsys, args, option):
    t = need_shared(TEMPLATES / "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML")
    keys = str(need_shared(KEYSTORE))
    rc, out, err = run(capsys, t, *[keys if a == "KEYS" else a for a in args])
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and option in err


def test_untransformable_request_is_one_error_line(capsys, tmp_path):
    t = need_shared(TEMPLATES / "ECS25b_6.22_SUCCESS_REQUEST_DUIS.XML")
    rc, out, err = run(capsys, t, "--device-type", "ESME", "--keys", need_shared(KEYSTORE))
    assert rc == 1 and out == "" and err.startswith("smets duis transform: error: unsupported-by-transform")
    # a file that is not XML is the user's mistake (exit 2), a request refused is a failure (exit 1)
    bad = tmp_path / "bad.xml"
    bad.write_text("<not-closed>")
    rc, out, err = run(capsys, bad, "--device-type", "ESME", "--keys", need_shared(KEYSTORE))
    assert rc == 2 and err.startswith("smets duis transform: error: FILE: ") and "not well-formed" in err
    assert len(err.strip().splitlines()) == 1
    rc, out, err = run(capsys, tmp_path / "missing.xml", "--device-type", "ESME", "--keys", KEYSTORE)
    assert rc == 2 and "FILE" in err
