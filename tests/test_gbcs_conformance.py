"""RTDS conformance: every reference message parses, verifies, decrypts, decodes and rebuilds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from emulator.gbcs_cli import main

from tests.conftest import KEYSTORE as KEYS, RTDS, needs_shared

pytestmark = needs_shared

_SUMMARY = re.compile(r"(\d+) passed, (\d+) failed, (\d+) skipped")


def run(capsys, directory: Path) -> tuple[int, list[str]]:
    code = main(["conformance", str(directory), "--keys", str(KEYS)])
    out, _ = capsys.readouterr()
    return code, out.splitlines()


def test_whole_rtds_corpus(capsys):
    code, lines = run(capsys, RTDS)
    m = _SUMMARY.fullmatch(lines[-1])
    assert m, lines[-1]
    passed, failed, skipped = map(int, m.groups())
    assert failed == 0, "\n".join(lines[:40])
    assert code == 0
    assert passed + skipped == len(list(RTDS.rglob("*.HEX")))
    # skips only where a key is genuinely missing from the key store
    from protocols.gbcs.keystore import KeyStore
    store = KeyStore(KEYS)
    for line in lines[:-1]:
        assert ": skipped: no key for " in line, line
        for eui in re.findall(r"no KA private key for ([0-9A-F]{16})", line):
            assert not store.has_private_key(int(eui, 16), "ka")
    assert skipped <= 4 and passed > 900


def test_failures_are_reported(capsys, tmp_path):
    dd = next(p for p in sorted(RTDS.rglob("*_RESPONSE_*.HEX")) if p.read_text().startswith("DD")
              and "PCS0" not in p.name)
    df = next(p for p in sorted(RTDS.rglob("*_ALERT_*.HEX")) if p.read_text().startswith("DF"))
    shutil.copy(dd, tmp_path / "good.HEX")
    data = bytearray(bytes.fromhex(dd.read_text().strip()))
    data[-1] ^= 1                                           # MAC no longer verifies
    (tmp_path / "badmac.HEX").write_text(data.hex().upper())
    data = bytearray(bytes.fromhex(df.read_text().strip()))
    data[-5] ^= 1                                           # signature no longer verifies
    (tmp_path / "badsig.HEX").write_text(data.hex().upper())
    (tmp_path / "short.HEX").write_text(dd.read_text().strip()[:40])
    code, lines = run(capsys, tmp_path)
    assert code == 1
    assert lines[-1] == "1 passed, 3 failed, 0 skipped"
    text = "\n".join(lines)
    assert re.search(r"badmac\.HEX: general_ciphering\.mac at offset \d+: GMAC does not verify", text)
    assert re.search(r"badsig\.HEX: general_signing\.signature at offset \d+: ECDSA", text)
    assert re.search(r"short\.HEX: \S+ at offset \d+: truncated", text)
