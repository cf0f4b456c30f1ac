"""Every user mistake is one line naming the option or field, exit status 2, no traceback, no hang,
no stale pid file; failures during a run exit 1 with the reason.  Spawned as a user would: the
C{smets} console script, C{twistd} and C{python -m twisted} of this interpreter."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from tests.cli_helpers import SINGLE_HOME, TWIST, TWISTD, error_lines, run, smets_script
from tests.conftest import KEYSTORE, RTDS, needs_keys, needs_shared

# spec section 8.4 (ACB ABAB..., user 123456789ABCDEF0, device FFFFFFFFFFFFFFFE): MAC verifies
ECS12_CMD = ("DD000000000000541100000000DF0901000000000000000208123456789ABCDEF008FFFFFFFFFFFFFFFE"
             "0002002220D920000002000102000100005E2C03020201090C07DF0105FF000000008000FF00"
             "0F1DD00D6745EBD8E0A663A4")
ACB = "ABABABABABABABAB"
SUPPLIER, DEVICE = "90B3D51F30010000", "00DB1234567890A0"


def assert_usage_error(proc, prog: str, *words: str, status: int = 2) -> str:
    """Exit status, exactly one error line naming the option/field, no traceback; returns the line."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == status, output
    assert "Traceback" not in output, output
    lines = error_lines(output, prog)
    assert len(lines) == 1, output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def smets(tmp_path: Path, *args: str, stdin: str | None = None):
    return run([*smets_script(), *args], cwd=tmp_path, timeout=120, stdin=stdin)


# ----------------------------------------------------------------------------- smets


def test_version(tmp_path: Path) -> None:
    proc = smets(tmp_path, "--version")
    assert proc.returncode == 0 and proc.stdout.startswith("smets ") and proc.stdout.split()[1][0].isdigit()
    proc = run([*TWISTD, "smets", "--version"], cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == smets(tmp_path, "--version").stdout.strip()


@pytest.mark.parametrize("args, words", [
    ([], ["a command is required"]),
    (["frob"], ["unknown command", '"frob"']),
    (["gbcs"], ["the following arguments are required"]),
    (["gbcs", "decode"], ["decode", "message"]),
    (["gbcs", "utrn", "--keys", "k"], ["utrn", "--supplier"]),
])
def test_missing_or_unknown_command(tmp_path: Path, args: list[str], words: list[str]) -> None:
    proc = smets(tmp_path, *args)
    assert_usage_error(proc, "smets gbcs" if args[:1] == ["gbcs"] else "smets", *words)


def test_decode_keys_missing_directory(tmp_path: Path) -> None:
    proc = smets(tmp_path, "gbcs", "decode", ECS12_CMD, "--keys", str(tmp_path / "nope"))
    assert_usage_error(proc, "smets gbcs", "--keys", "no such directory")


def test_decode_keys_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("x")
    proc = smets(tmp_path, "gbcs", "decode", ECS12_CMD, "--keys", "k")
    assert_usage_error(proc, "smets gbcs", "--keys", "not a directory")


@needs_keys
def test_rtds_replay_directory_and_keys_are_named(tmp_path: Path) -> None:
    proc = smets(tmp_path, "rtds", "replay", str(tmp_path / "nope"), "--keys", str(tmp_path))
    assert_usage_error(proc, "smets rtds replay", "DIRECTORY", "no such directory")
    (tmp_path / "k").write_text("x")
    proc = smets(tmp_path, "rtds", "replay", str(tmp_path), "--keys", "k")
    assert_usage_error(proc, "smets rtds replay", "--keys", "not a directory")
    (tmp_path / "empty").mkdir()
    proc = smets(tmp_path, "rtds", "replay", "empty", "--keys", str(KEYSTORE))
    assert_usage_error(proc, "smets rtds replay", "DIRECTORY", "no reference tests under empty")


def test_empty_key_store(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = smets(tmp_path, "gbcs", "decode", ECS12_CMD, "--keys", "empty")
    assert_usage_error(proc, "smets gbcs", "--keys", "no certificates or keys")


@needs_keys
def test_damaged_key_store(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(KEYSTORE, damaged)
    victim = sorted(damaged.glob("*.pem"))[0]
    victim.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    proc = smets(tmp_path, "gbcs", "decode", ECS12_CMD, "--keys", "damaged")
    assert_usage_error(proc, "smets gbcs", "--keys", "cannot load", victim.name[:16].upper())


def test_acb_not_hex(tmp_path: Path) -> None:
    proc = smets(tmp_path, "gbcs", "decode", ECS12_CMD, "--acb", "nothex")
    assert_usage_error(proc, "smets gbcs", "--acb", "16 hex digits", '"nothex"')


@pytest.mark.parametrize("arg, words", [
    (ECS12_CMD[:-1], ["MESSAGE", "odd number of hex digits (183)"]),
    ("zz", ["MESSAGE", "neither hex nor base64"]),
    ("missing/message.hex", ["MESSAGE", "no such file: missing/message.hex"]),
    ("/dev/null", ["MESSAGE", "/dev/null is not a regular file"]),
    ("empty.hex", ["MESSAGE", "empty.hex is empty"]),
    (".", ["MESSAGE", "is a directory"]),
])
def test_decode_bad_message_argument(tmp_path: Path, arg: str, words: list[str]) -> None:
    """Odd-length hex, a missing path, /dev/null, an empty file: each its own message, no offset."""
    (tmp_path / "empty.hex").write_bytes(b"")
    proc = smets(tmp_path, "gbcs", "decode", arg)
    line = assert_usage_error(proc, "smets gbcs", *words)
    assert "offset" not in line


def test_decode_truncated_message_names_field_and_offset(tmp_path: Path) -> None:
    """Bytes that do not decode are not a usage mistake: exit 1, the field and its byte offset."""
    proc = smets(tmp_path, "gbcs", "decode", ECS12_CMD[:60])
    assert_usage_error(proc, "smets gbcs", " at offset ", status=1)


@needs_keys
def test_decode_flipped_mac_byte_fails(tmp_path: Path) -> None:
    good = smets(tmp_path, "gbcs", "decode", ECS12_CMD, "--keys", str(KEYSTORE), "--acb", ACB)
    assert good.returncode == 0 and "mac: verified" in good.stdout, good.stderr
    flipped = ECS12_CMD[:-2] + f"{int(ECS12_CMD[-2:], 16) ^ 0x01:02X}"
    proc = smets(tmp_path, "gbcs", "decode", flipped, "--keys", str(KEYSTORE), "--acb", ACB)
    assert_usage_error(proc, "smets gbcs", "MAC", status=1)
    assert "mac: failed" in proc.stdout          # the decode is still shown


@needs_shared
def test_decode_flipped_signature_byte_fails(tmp_path: Path) -> None:
    signed = next(p for p in sorted(RTDS.rglob("*_RESPONSE_*.HEX")) if p.read_text()[:2] == "DF")
    data = bytearray(bytes.fromhex(signed.read_text()))
    data[-1] ^= 0x55
    proc = smets(tmp_path, "gbcs", "decode", data.hex(), "--keys", str(KEYSTORE), "--no-payload")
    assert_usage_error(proc, "smets gbcs", "signature", status=1)


@needs_keys
@pytest.mark.parametrize("option, value, words", [
    ("--supplier", "ZZZ", ["16 hex digits", '"ZZZ"']),
    ("--device", "00DB", ["16 hex digits"]),
    ("--counter", "abc", ["integer", '"abc"']),
    ("--counter", "-1", ["must be 0-"]),
    ("--value", "9000", ["must be 0-8191"]),
    ("--value", "ten", ["integer"]),
])
def test_utrn_bad_values(tmp_path: Path, option: str, value: str, words: list[str]) -> None:
    args = {"--supplier": SUPPLIER, "--device": DEVICE, "--counter": "0x100000000", "--value": "100"}
    args[option] = value
    flat = [x for kv in args.items() for x in kv]
    proc = smets(tmp_path, "gbcs", "utrn", "--keys", str(KEYSTORE), *flat)
    assert_usage_error(proc, "smets gbcs", option, *words)


@needs_keys
def test_utrn_supplier_without_keys(tmp_path: Path) -> None:
    proc = smets(tmp_path, "gbcs", "utrn", "--keys", str(KEYSTORE), "--supplier", "90B3D51F30019999",
                 "--device", DEVICE, "--counter", "1", "--value", "1")
    assert_usage_error(proc, "smets gbcs", "--keys", "90B3D51F30019999")


@needs_keys
def test_conformance_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    proc = smets(tmp_path, "gbcs", "conformance", "none", "--keys", str(KEYSTORE))
    assert_usage_error(proc, "smets gbcs", "DIRECTORY", "nothing to check")


@needs_keys
def test_conformance_missing_directory(tmp_path: Path) -> None:
    proc = smets(tmp_path, "gbcs", "conformance", "nope", "--keys", str(KEYSTORE))
    assert_usage_error(proc, "smets gbcs", "DIRECTORY", "no such directory")


@needs_shared
def test_conformance_reports_a_file_that_is_not_a_message(tmp_path: Path) -> None:
    folder = tmp_path / "rtds"
    folder.mkdir()
    good = next(iter(sorted(RTDS.rglob("*.HEX"))))
    shutil.copy(good, folder)
    (folder / "odd.HEX").write_text("ABC\n")
    proc = smets(tmp_path, "gbcs", "conformance", "rtds", "--keys", str(KEYSTORE))
    assert_usage_error(proc, "smets gbcs", "1 of 2 files failed", status=1)
    assert "odd.HEX: rtds/odd.HEX holds an odd number of hex digits (3)" in proc.stdout, proc.stdout
    assert "offset" not in proc.stdout and "1 passed, 1 failed, 0 skipped" in proc.stdout


@needs_shared
def test_conformance_more_skipped_than_passed(tmp_path: Path) -> None:
    """A key store that verifies almost nothing: the run is not a pass unless --allow-skips."""
    few = tmp_path / "few-keys"
    few.mkdir()
    for p in sorted(KEYSTORE.glob("00db123456789001-*")):
        shutil.copy(p, few)
    folder = tmp_path / "rtds"
    for p in sorted(RTDS.rglob("*.HEX"))[:60]:
        (folder / p.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, folder / p.parent.name)
    proc = smets(tmp_path, "gbcs", "conformance", "rtds", "--keys", "few-keys")
    line = assert_usage_error(proc, "smets gbcs", "skipped", "--allow-skips", status=1)
    assert "0 failed" in proc.stdout, line
    allowed = smets(tmp_path, "gbcs", "conformance", "rtds", "--keys", "few-keys", "--allow-skips")
    assert allowed.returncode == 0 and "0 failed" in allowed.stdout, allowed.stdout + allowed.stderr


def _decoded(tmp_path: Path, *extra: str) -> dict:
    proc = smets(tmp_path, "gbcs", "decode", ECS12_CMD, "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _encode(tmp_path: Path, tree) -> object:
    (tmp_path / "m.json").write_text(json.dumps(tree))
    return smets(tmp_path, "gbcs", "encode", "m.json")


def test_encode_round_trip_is_accepted(tmp_path: Path) -> None:
    proc = _encode(tmp_path, _decoded(tmp_path))
    assert proc.returncode == 0 and proc.stdout.strip() == ECS12_CMD, proc.stderr


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.update(frobnicate=1), ["frobnicate", "unknown field"]),
    (lambda t: t["other_information"].update(colour="red"), ["other_information.colour", "unknown field"]),
    (lambda t: t.update(use_case="ECS99"), ["use_case", '"ECS99"', '"ECS12"']),
    (lambda t: t["payload"]["access_request_list_of_data"][0].update(date_time="2020-01-01T00:00:00"),
     ["payload.access_request_list_of_data[0].date_time"]),
    (lambda t: t["payload"]["access_request_specification"][0].update(object_name="Foo"),
     ["payload.access_request_specification[0].object_name", '"Foo"', '"Restrict Data Date Time"']),
])
def test_encode_rejects_fields_it_would_ignore(tmp_path: Path, edit, words: list[str]) -> None:
    tree = _decoded(tmp_path)
    edit(tree)
    proc = _encode(tmp_path, tree)
    assert_usage_error(proc, "smets gbcs", *words)


def test_encode_honours_a_real_edit(tmp_path: Path) -> None:
    """An edit the encoder uses is accepted once the fields derived from it are left out."""
    tree = _decoded(tmp_path)
    spec = tree["payload"]["access_request_specification"][0]
    spec["obis"] = "1-0:1.8.0.255"
    del spec["object_name"]
    proc = _encode(tmp_path, tree)
    assert proc.returncode == 0, proc.stderr
    again = json.loads(smets(tmp_path, "gbcs", "decode", proc.stdout.strip(), "--json").stdout)
    assert again["payload"]["access_request_specification"][0]["obis"] == "1-0:1.8.0.255"


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.update(originator_counter="abc"), ["originator_counter", '"abc"']),
    (lambda t: t.update(originator_counter=[1]), ["originator_counter", "[1]"]),
    (lambda t: t.update(recipient="FFFF"), ["recipient", "16 hex digits", '"FFFF"']),
    (lambda t: t.update(cra="sideways"), ["cra", '"sideways"']),
    (lambda t: t["general_ciphering"].update(invocation_counter=-5), ["general_ciphering.invocation_counter"]),
])
def test_encode_names_the_json_path_of_a_bad_value(tmp_path: Path, edit, words: list[str]) -> None:
    tree = _decoded(tmp_path)
    edit(tree)
    line = assert_usage_error(_encode(tmp_path, tree), "smets gbcs", *words)
    assert "offset" not in line and "'" not in line     # a JSON path and JSON values, no Python repr


@pytest.mark.parametrize("content, words", [
    ("{not json", ["m.json", "not JSON: line 1 column 2"]),
    ("[1, 2]", ["m.json", "must hold a JSON object"]),
])
def test_encode_bad_json(tmp_path: Path, content: str, words: list[str]) -> None:
    (tmp_path / "m.json").write_text(content)
    assert_usage_error(smets(tmp_path, "gbcs", "encode", "m.json"), "smets gbcs", *words)


def test_encode_missing_file(tmp_path: Path) -> None:
    proc = smets(tmp_path, "gbcs", "encode", "nope.json")
    assert_usage_error(proc, "smets gbcs", "JSONFILE", "no such file: nope.json")


def test_encode_from_stdin(tmp_path: Path) -> None:
    tree = json.dumps(_decoded(tmp_path))
    proc = smets(tmp_path, "gbcs", "encode", "-", stdin=tree)
    assert proc.returncode == 0 and proc.stdout.strip() == ECS12_CMD
    proc = smets(tmp_path, "gbcs", "encode", "-", stdin="")
    assert_usage_error(proc, "smets gbcs", "standard input", "not JSON")


# ----------------------------------------------------------------------------- twistd smets


RUNNERS = [pytest.param(TWISTD, "twistd smets", id="twistd"),
           pytest.param(TWIST, "python -m twisted smets", id="twist")]


def emulator(runner: list[str], tmp_path: Path, *args: str, topology: Path = SINGLE_HOME, timeout: float = 120):
    """A run of the emulator with the default pid file (twistd writes ./twistd.pid)."""
    return run([*runner, *(["-n"] if runner is TWISTD else []), "smets", "--topology", str(topology), *args],
               cwd=tmp_path, timeout=timeout)


def assert_no_pidfile(tmp_path: Path) -> None:
    assert not (tmp_path / "twistd.pid").exists(), "stale twistd.pid left behind"


@pytest.mark.parametrize("runner, prog", RUNNERS)
@pytest.mark.parametrize("args, words", [
    (["--virtual", "--duration", "100", "--pcap", "no-such-dir/a.pcapng"], ["--pcap", "does not exist"]),
    (["--virtual", "--duration", "100", "--keys", "blocker/keys"], ["--keys", "not a directory"]),
    (["--virtual", "--duration", "100", "--keys", "."], ["--keys", "is a directory"]),
    (["--virtual", "--duration", "nan"], ["--duration", "finite", "nan"]),
    (["--virtual", "--duration", "inf"], ["--duration", "finite", "inf"]),
    (["--duration", "-inf"], ["--duration", "finite"]),
    (["--virtual", "--duration", "0"], ["--duration", "positive"]),
    (["--virtual", "--duration", "ten"], ["--duration", '"ten"']),
    (["--virtual"], ["--duration", "required with --virtual"]),
    (["--seed", "abc", "--virtual", "--duration", "10"], ["--seed", "integer"]),
    (["--metrics-port", "70000", "--virtual", "--duration", "10"], ["--metrics-port", "0-65535"]),
    (["--progress", "0", "--virtual", "--duration", "10"], ["--progress", "positive"]),
    (["--bogus"], ["--bogus", "not recognized"]),
])
def test_twistd_bad_options(tmp_path: Path, runner, prog: str, args: list[str], words: list[str]) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    proc = emulator(runner, tmp_path, *args)
    assert_usage_error(proc, prog, *words)
    assert_no_pidfile(tmp_path)
    assert not (tmp_path / "a.pcapng").exists()


@pytest.mark.parametrize("runner, prog", RUNNERS)
def test_twistd_missing_topology(tmp_path: Path, runner, prog: str) -> None:
    proc = emulator(runner, tmp_path, "--virtual", "--duration", "10", topology=tmp_path / "nope.yaml")
    assert_usage_error(proc, prog, "--topology", "no such file")
    assert_no_pidfile(tmp_path)


@pytest.mark.parametrize("runner, prog", RUNNERS)
def test_twistd_metrics_port_in_use(tmp_path: Path, runner, prog: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = emulator(runner, tmp_path, "--virtual", "--duration", "100", "--metrics-port", str(port),
                        "--pcap", "a.pcapng")
    assert_usage_error(proc, prog, "--metrics-port", f"127.0.0.1:{port} is already in use")
    assert_no_pidfile(tmp_path)
    assert not (tmp_path / "a.pcapng").exists()        # nothing ran, nothing was written


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
def test_twistd_capture_write_failure_exits_1(tmp_path: Path) -> None:
    """A failure during the run (the disk is full) ends it: one line with the reason, exit 1, no pid file."""
    proc = emulator(TWISTD, tmp_path, "--virtual", "--duration", "3600", "--pcap", "/dev/full")
    line = assert_usage_error(proc, "twistd smets", "cannot write the capture /dev/full", status=1)
    assert "No space left" in line
    assert "home-0001: ihd" in proc.stdout          # the summary is still printed
    assert_no_pidfile(tmp_path)


def test_twistd_two_runs_in_one_directory(tmp_path: Path) -> None:
    """With --pidfile= (as the README shows) runs share a directory; without, a failed run leaves none."""
    for name in ("a", "b"):
        proc = run([*TWISTD, "-n", "--pidfile=", "smets", "--topology", str(SINGLE_HOME), "--virtual",
                    "--duration", "60", "--pcap", f"{name}.pcapng"], cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "a.pcapng").stat().st_size > 0 and (tmp_path / "b.pcapng").stat().st_size > 0
    proc = emulator(TWISTD, tmp_path, "--virtual", "--duration", "60")
    assert proc.returncode == 0 and "Traceback" not in proc.stdout + proc.stderr
    assert_no_pidfile(tmp_path)

