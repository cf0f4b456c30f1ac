"""C{smets gbcs decode|encode|utrn}: JSON fields, round trip over RTDS, error lines."""

from __future__ import annotations

import base64
import json
import re

import pytest

from emulator.gbcs_cli import main

from tests.conftest import KEYSTORE as KEYS, RTDS, needs_shared

# spec section 8.4 (ACB ABAB..., user 123456789ABCDEF0, device FFFFFFFFFFFFFFFE)
ECS12_CMD = ("DD000000000000541100000000DF0901000000000000000208123456789ABCDEF008FFFFFFFFFFFFFFFE"
             "0002002220D920000002000102000100005E2C03020201090C07DF0105FF000000008000FF00"
             "0F1DD00D6745EBD8E0A663A4")
ECS12_RSP = ("DD000000000000401100000000DF0902000000000000000208FFFFFFFFFFFFFFFE08123456789ABCDEF0"
             "000200220CDA200000020000010001020000"
             "0B3C1B312CEAE9C130060E29")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@needs_shared
@pytest.mark.parametrize("extra", [["--no-payload"], []])
def test_decode_json_fields(capsys, extra):
    code, out, _ = run(capsys, "decode", ECS12_CMD, "--keys", str(KEYS), "--acb", "ABABABABABABABAB",
                       "--json", *extra)
    assert code == 0
    tree = json.loads(out)
    assert tree["message_code"] == 0x0022 and tree["use_case"] == "ECS12"
    assert tree["cra"] == "command" and tree["originator_counter"] == 2
    assert tree["originator"] == "123456789ABCDEF0" and tree["recipient"] == "FFFFFFFFFFFFFFFE"
    assert tree["mac"] == "verified" and tree["signature"] == "absent"
    code, out, _ = run(capsys, "decode", ECS12_RSP, "--keys", str(KEYS), "--json", *extra)
    tree = json.loads(out)
    assert tree["cra"] == "response" and tree["mac"] == "verified"   # keyed user x device, no ACB
    code, out, _ = run(capsys, "decode", ECS12_RSP, "--json", *extra)
    assert json.loads(out)["mac"] == "no-key"


@needs_shared
def test_decode_signed_and_failed(capsys, tmp_path):
    signed = next(p for p in sorted(RTDS.rglob("*_RESPONSE_*.HEX")) if p.read_text()[:2] == "DF")
    code, out, _ = run(capsys, "decode", str(signed), "--keys", str(KEYS), "--json", "--no-payload")
    tree = json.loads(out)
    assert tree["signature"] == "verified" and tree["mac"] == "absent"
    assert tree["signature_field"]["form"] == "ecdsa"
    data = bytearray(bytes.fromhex(signed.read_text()))
    data[-1] ^= 0x55
    bad = tmp_path / "bad.HEX"
    bad.write_text(data.hex().upper())
    code, out, err = run(capsys, "decode", str(bad), "--keys", str(KEYS), "--json", "--no-payload")
    assert code == 1 and json.loads(out)["signature"] == "failed"   # a script sees it in the exit status
    assert "signature verification failed" in err


def test_decode_base64_and_readable(capsys):
    b64 = base64.b64encode(bytes.fromhex(ECS12_CMD)).decode()
    code, out, _ = run(capsys, "decode", b64, "--no-payload")
    assert code == 0
    assert "0x0022 ECS12" in out and "COMMAND counter 2 from 123456789ABCDEF0 to FFFFFFFFFFFFFFFE" in out
    assert "mac: no-key" in out


@pytest.mark.parametrize("hexstr", [ECS12_CMD[:60], ECS12_CMD[:-2], "DF09", "AB" + ECS12_CMD[2:], "zz"])
def test_malformed_input_one_line_error(capsys, hexstr):
    code, out, err = run(capsys, "decode", hexstr, "--no-payload")
    assert code != 0 and out == ""
    # bytes that do not decode name a field and an offset; text that is not hex names the argument
    assert re.fullmatch(r"smets gbcs: error: (\S+ at offset \d+|MESSAGE): .+\n", err), err




@needs_shared
@pytest.mark.parametrize("extra", [["--no-payload"], []])
def test_rtds_round_trip_decode_json_then_encode(capsys, tmp_path, extra):
    jf = tmp_path / "m.json"
    files = sorted(RTDS.rglob("*.HEX"))
    for path in files:
        code, out, err = run(capsys, "decode", str(path), "--json", *extra)
        assert code == 0, (path.name, err)
        jf.write_text(out)
        code, out, err = run(capsys, "encode", str(jf))
        assert code == 0, (path.name, err)
        assert out.strip() == path.read_text().strip(), path.name


@needs_shared
def test_encode_with_keys_recomputes_mac_and_signs(capsys, tmp_path):
    jf = tmp_path / "m.json"
    code, out, _ = run(capsys, "decode", ECS12_CMD, "--json", "--no-payload")
    tree = json.loads(out)
    tree["general_ciphering"]["mac"] = None                           # must be recomputed
    jf.write_text(json.dumps(tree))
    code, out, err = run(capsys, "encode", str(jf), "--keys", str(KEYS), "--acb", "ABABABABABABABAB")
    assert code == 0 and out.strip() == ECS12_CMD
    code, out, err = run(capsys, "encode", str(jf))                    # no key, no MAC: error
    assert code == 2 and err.startswith("smets gbcs: error: general_ciphering.mac: no MAC given")
    # a precommand made critical: the supplier signs it when asked
    pre = next(p for p in sorted(RTDS.rglob("*_PRECOMMAND_*.HEX"))
               if "90B3D51F30010000" in p.read_text()[:80])
    code, out, _ = run(capsys, "decode", str(pre), "--json", "--no-payload")
    tree = json.loads(out)
    tree["signature_field"] = {"form": "ecdsa", "value": "sign"}
    jf.write_text(json.dumps(tree))
    code, out, err = run(capsys, "encode", str(jf), "--keys", str(KEYS))
    assert code == 0, err
    signed = out.strip()
    assert signed.startswith(pre.read_text().strip()) and len(signed) == len(pre.read_text().strip()) + 130
    code, out, _ = run(capsys, "decode", signed, "--keys", str(KEYS), "--json", "--no-payload")
    assert json.loads(out)["signature"] == "verified"


@needs_shared
def test_utrn_command(capsys):
    code, out, _ = run(capsys, "utrn", "--keys", str(KEYS), "--supplier", "90B3D51F30010000",
                       "--device", "00DB1234567890A0", "--counter", "0x100000000", "--value", "100")
    assert code == 0 and out.strip() == "73943333457189043313"
