"""Where the reference data is, defined once for the whole suite, and what happens without it.

The DCC reference data (RTDS messages, their key store, the spec tables) lives in C{shared/}
beside the repository; tshark (Wireshark's dissectors, the judge of what is on the air) is a
reference tool on PATH (mark L{needs_tshark}).  Tests that need it carry the C{reference_data(path, ...)} mark (use
L{needs}, L{needs_rtds}, L{needs_keys}, L{needs_shared}):

  - with the environment variable C{CI} set, missing reference data is a failure naming what
    is missing (the whole session stops at once if C{shared/} itself is absent): a checkout
    without the ground truth must never pass green;
  - outside CI such a test is skipped, with the missing path as the reason.

An C{ImportError} is never turned into a skip anywhere in the suite: a broken import fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RTDS = SHARED / "rtds" / "RTDS-4.5.0"
KEYSTORE = SHARED / "rtds" / "keystore"
SPEC = SHARED / "spec"
SPEC_DUIS = SPEC / "duis"
TEMPLATES = SHARED / "duis-templates"
#: every root the suite reads (checked up front under CI)
REFERENCE_ROOTS = (RTDS, KEYSTORE, SPEC, TEMPLATES)

#: the dcc: section of the soak tests' topologies (KEYS: the key store path the test puts in):
#: the RTDS DCC and its supplier and network operator Users, registered for every home
SOAK_DCC = """\
dcc:
  id: "90B3D51F30000002"
  keys: KEYS
  users:
    - {id: "90B3D51F30010000", name: supplier, roles: [IS, ES, GS]}
    - {id: "90B3D51F30020000", name: network-operator, roles: [ED, GT]}
  homes:
    "*":
      import_supplier: "90B3D51F30010000"
      gas_supplier: "90B3D51F30010000"
      electricity_distributor: "90B3D51F30020000"
      gas_transporter: "90B3D51F30020000"
"""


def in_ci() -> bool:
    """True when the environment variable C{CI} is set to anything but empty / 0 / false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def needs(*paths: Path) -> pytest.MarkDecorator:
    """Mark a test (or, as C{pytestmark}, a module) as reading these reference paths."""
    return pytest.mark.reference_data(*paths)


needs_rtds = needs(RTDS)
needs_keys = needs(KEYSTORE)
needs_shared = needs(RTDS, KEYSTORE)


#: tshark is reference data too: under CI its absence fails the tests that need it
needs_tshark = pytest.mark.reference_tool("tshark")


def missing_reference(paths) -> list[Path]:
    """The paths (of C{paths}) that do not exist."""
    return [Path(p) for p in paths if not Path(p).exists()]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reference_data(*paths): reads shared reference data (a failure under CI when missing, "
                   "else a skip)")
    config.addinivalue_line(
        "markers", "reference_tool(*names): runs these programs from PATH (a failure under CI when missing, "
                   "else a skip)")


def pytest_sessionstart(session: pytest.Session) -> None:
    if in_ci():
        missing = missing_reference(REFERENCE_ROOTS)
        if missing:
            pytest.exit("CI is set and the reference data missing: " + ", ".join(str(p) for p in missing)
                        + " (check out shared/ beside the repository)", returncode=3)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # tryfirst: before the skipping plugin, so an empty parameter list built from missing data
    # does not hide as "got empty parameter set" under CI
    missing = [str(p) for p in missing_reference(
        p for mark in item.iter_markers("reference_data") for p in mark.args)]
    missing += [f"{name} (not on PATH)" for mark in item.iter_markers("reference_tool") for name in mark.args
                if shutil.which(name) is None]
    if not missing:
        return
    text = "reference data missing: " + ", ".join(missing)
    if in_ci():
        pytest.fail(f"CI is set and the {text}", pytrace=False)
    pytest.skip(text)
