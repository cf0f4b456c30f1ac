"""Shared data for the SMWAN tests: RTDS messages to carry, and the CI rule for missing data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.gbcs_helpers import RTDS, split_rtds

REPO = Path(__file__).resolve().parents[1]
LUA = REPO / "tap" / "smwan.lua"


def require_rtds() -> None:
    """Skip without the shared RTDS data, except under CI where that is a failure."""
    if not RTDS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"RTDS reference data missing at {RTDS} (CI)")
        pytest.skip("shared RTDS data not present")


def require_tshark() -> None:
    if shutil.which("tshark") is None:
        if os.environ.get("CI"):
            pytest.fail("tshark is not installed (CI)")
        pytest.skip("tshark is not installed")


def rtds_messages(kind: str, limit: int | None = None) -> list[tuple[str, bytes, int]]:
    """(file name, message bytes, message code) of RTDS files C{*_<kind>_GBCS.HEX}, sorted by name.

    The message code comes from L{split_rtds}, a reading of the GBCS framing independent of ours.
    """
    require_rtds()
    out = []
    for path in sorted(RTDS.glob(f"*/*_{kind}_GBCS.HEX")):
        text = path.read_text().strip()
        out.append((path.name, bytes.fromhex(text), split_rtds(text)[0]))
        if limit is not None and len(out) >= limit:
            break
    assert out, f"no RTDS {kind} files under {RTDS}"
    return out
