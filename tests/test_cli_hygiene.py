"""The suite cannot skip its ground truth: missing reference data (or tshark) fails under CI, skips
with what is missing otherwise, and no test turns an ImportError into a skip."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, needs_shared

_PROBE = '''
import pytest

@pytest.mark.reference_data("{missing}")
def test_needs_missing_data():
    pass

@pytest.mark.parametrize("x", [])
@pytest.mark.reference_data("{missing}")
def test_empty_parameters_from_missing_data(x):
    pass

@pytest.mark.reference_tool("no-such-dissector-program")
def test_needs_missing_tool():
    pass
'''


def _run_probe(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    missing = tmp_path / "not-there" / "RTDS-4.5.0"
    probe = tmp_path / "test_probe.py"
    probe.write_text(_PROBE.format(missing=missing))
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "tests.conftest", "-p",
                           "no:cacheprovider", str(probe)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


@needs_shared          # (the session-level CI check needs the real data present to get this far)
def test_missing_reference_data_fails_under_ci(tmp_path: Path) -> None:
    proc = _run_probe(tmp_path, "true")
    assert proc.returncode == 1, proc.stdout
    assert "3 errors" in proc.stdout and "CI is set and the reference data missing" in proc.stdout, proc.stdout
    assert str(tmp_path / "not-there" / "RTDS-4.5.0") in proc.stdout
    assert "no-such-dissector-program (not on PATH)" in proc.stdout


def test_missing_reference_data_skips_outside_ci(tmp_path: Path) -> None:
    proc = _run_probe(tmp_path, None)
    assert proc.returncode == 0, proc.stdout
    assert "3 skipped" in proc.stdout and "reference data missing" in proc.stdout, proc.stdout


def test_no_import_error_becomes_a_skip() -> None:
    offenders = []
    pattern = re.compile(r"importorskip|except\s+(\(?[\w., ]*)?ImportError")
    for path in sorted((REPO / "tests").glob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and path.name != Path(__file__).name:
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, offenders


def test_reference_paths_are_defined_once() -> None:
    """Only conftest.py says where shared/ is; the tests import it from there."""
    offenders = [p.name for p in sorted((REPO / "tests").glob("*.py"))
                 if p.name != "conftest.py" and re.search(r'["\']shared["\']', p.read_text())]
    assert not offenders, offenders
