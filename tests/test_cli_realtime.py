"""A real-time run: progress lines while it runs, and on Ctrl-C / SIGTERM the same per-device
summary as a virtual run prints at its end, a capture tshark reads, and no pid file left."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.cli_helpers import SINGLE_HOME, TWISTD
from tests.han_helpers import needs_tshark

_PROGRESS = re.compile(r"smets: ([\d,]+) s running: frames ([\d,]+), joins (\d+), reads answered ([\d,]+)")


def _start(tmp_path: Path) -> tuple[subprocess.Popen, list[str], threading.Thread]:
    proc = subprocess.Popen(
        [*TWISTD, "-n", "smets", "--topology", str(SINGLE_HOME), "--seed", "3", "--pcap", "rt.pcapng",
         "--keys", "keys", "--progress", "1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def pump() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    return proc, lines, reader


def _progress(lines: list[str]) -> list[tuple[int, ...]]:
    return [tuple(int(g.replace(",", "")) for g in m.groups()) for m in map(_PROGRESS.search, list(lines)) if m]


@needs_tshark
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_real_time_run_stopped_by_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    proc, lines, reader = _start(tmp_path)
    try:
        deadline = time.monotonic() + 90
        # run until the three devices have joined and a few progress lines came (they say so)
        while time.monotonic() < deadline and proc.poll() is None:
            progress = _progress(lines)
            if len(progress) >= 3 and progress[-1][2] >= 3:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "\n".join(lines)
        progress = _progress(lines)
        assert len(progress) >= 3, "\n".join(lines)
        elapsed = [p[0] for p in progress]
        frames = [p[1] for p in progress]
        assert elapsed == sorted(elapsed) and frames == sorted(frames) and frames[-1] > frames[0]
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    output = "\n".join(lines)
    assert "Traceback" not in output, output
    assert proc.returncode in (0, -sig), output     # twistd re-raises the signal it was stopped by
    for device in ("ch (CH", "esme (ESME", "gsme (GSME", "ihd (IHD"):
        assert f"smets: home-0001: {device}" in output, output
    assert "smets: totals: frames" in output
    assert not (tmp_path / "twistd.pid").exists(), "stale twistd.pid"
    # the capture is complete and valid: tshark reads every frame and decrypts with the key table
    conf = tmp_path / "ws"
    conf.mkdir()
    shutil.copy(tmp_path / "keys", conf / "zigbee_pc_keys")
    read = subprocess.run(["tshark", "-n", "-r", "rt.pcapng", "-Y", "zbee_nwk", "-T", "fields",
                           "-e", "frame.number", "-e", "_ws.malformed"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, WIRESHARK_CONFIG_DIR=str(conf)))
    complaints = [line for line in read.stderr.splitlines() if "Running as user" not in line]
    assert read.returncode == 0 and not complaints, read.stderr
    rows = [line.split("\t") for line in read.stdout.splitlines()]
    assert len(rows) >= frames[-1] // 2, (len(rows), frames[-1])
    assert not any(len(r) > 1 and r[1] for r in rows), "malformed frames in the capture"
