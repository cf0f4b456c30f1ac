"""The Done-when campaign of issue 12: the default home plus an INSIDER for 3 h of virtual time,
50,000 correctly NWK-secured forged frames over every attack class at 10 frames per second, on a
clean channel and with 10% loss.

What must hold (the HAN holds against a device that has the network key):
 - no device state changed by an unauthenticated frame: keys, attributes, reporting
   configurations, time, mirrors, the display's meters (L{emulator.devices.han_state}: a snapshot
   just before the attack equals one after it); no address-map entry contradicts a device's real
   address or names a device that is not in the home; the gas mirror never holds gas the meter
   did not measure (checked every minute of the attack);
 - 0 errors: no handler raised (C{rx_error}), no scheduled call failed; the ledger has no
   C{state_changed} nor C{error} for any class;
 - every table within its limit, all through the attack;
 - the display's electricity reads answered >= 95% during the attack and all of them from
   5 minutes after it; the gas meter's reports acknowledged after it.

This fails on a stack that accepts Smart Energy traffic without APS link-key security (see
issue 12's findings); it is the acceptance test of the HAN security work.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from emulator.clock import VirtualClock
from emulator.devices.han_state import address_errors, home_diff, home_state, mirror_errors, table_sizes
from emulator.estate import Estate
from emulator.topology import parse_topology
from protocols.zigbee.attacks import ATTACK_CLASSES

REPO = Path(__file__).resolve().parents[1]
ATTACK_HOME = REPO / "topologies" / "attack-home.yaml"
RUN = 3 * 3600.0
#: entries of a table beyond its limit for state that link keys vouch for (kept first): a few per device
PER_DEVICE = 4


def _campaign(loss: float, seed: int = 1) -> dict:
    text = ATTACK_HOME.read_text()
    if loss:
        text = text.replace("impairments: {}", f"impairments: {{loss: {loss}}}", 1)
    topology = parse_topology(text, str(ATTACK_HOME), seed)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, seed)
    home = estate.homes[0]
    insider = home.nodes["insider"]
    ihd, gsme = home.nodes["ihd"], home.nodes["gsme"]
    t0 = topology.start_time
    start, end = t0 + insider.attack_start, t0 + insider.attack_start + insider.attack_duration
    reads: list[tuple[float, bool]] = []
    reports: list[tuple[float, bool]] = []
    out: dict = {"state_errors": [], "tables": {}}

    def watch() -> None:
        # every outcome of the display's electricity reads and of the gas meter's reports
        read_done, report_done = ihd._electricity_read, gsme._report_done
        ihd._electricity_read = lambda values: (reads.append((clock.seconds(), values is not None)),
                                                read_done(values))
        gsme._report_done = lambda ok: (reports.append((clock.seconds(), ok)), report_done(ok))

    def before_attack() -> None:
        out["before"] = home_state(home)

    def check() -> None:
        errors = address_errors(home) + mirror_errors(home)
        if errors:
            out["state_errors"].append((clock.seconds() - t0, errors))
        for name, node in home.nodes.items():
            for table, n in table_sizes(node).items():
                key = (name, table)
                out["tables"][key] = max(out["tables"].get(key, 0), n)
        if clock.seconds() < end + 300:
            clock.callLater(60.0, check)

    estate.start()
    clock.callLater(10.0, watch)
    clock.callLater(insider.attack_start - 1.0, before_attack)
    clock.callLater(insider.attack_start, check)
    wall, cpu = time.monotonic(), time.process_time()
    clock.run_until(end + 300)
    out["after"] = home_state(home)
    clock.run_until(t0 + RUN)
    out["wall"], out["cpu"] = time.monotonic() - wall, time.process_time() - cpu
    check()
    estate.close()
    out.update(estate=estate, home=home, insider=insider, start=start, end=end, reads=reads, reports=reports)
    return out


#: checks of the campaign that may fail because of a hole the insider found in the stack that is
#: still open, each with the test that pins it down in tests/test_insider_findings.py (marked as an
#: open finding there: a strict xfail, so a fix makes that test fail until its mark goes).  Whether
#: a hole shows in one of these checks in a given run depends on timing (e.g. the gas meter may or
#: may not wake while the hub has lost it as a child); that the hole is open is the finding test's
#: business.  Once a finding's mark is gone, the checks naming it are enforced here again.
OPEN_FINDINGS: dict[str, str] = {}


def _still_open(test_name: str) -> bool:
    """Whether the finding test is still marked as an open finding (a strict xfail)."""
    from tests import test_insider_findings as findings
    marks = getattr(getattr(findings, test_name), "pytestmark", [])
    return any(m.name == "xfail" and m.kwargs.get("strict") for m in marks)


def campaign_problems(r: dict) -> dict[str, str]:
    """Every check of the campaign that failed, by name: what went wrong."""
    insider, home, estate = r["insider"], r["home"], r["estate"]
    ledger = insider.ledger
    problems: dict[str, str] = {}

    def check(name: str, ok: bool, what: str) -> None:
        if not ok:
            problems[name] = problems[name] + "; " + what if name in problems else what

    # the attack happened: 50,000 frames on the air, every class among them
    check("frames", insider.frames_sent() >= 50_000, f"only {insider.frames_sent()} forged frames sent")
    check("classes", set(ledger) == set(ATTACK_CLASSES), f"classes {sorted(ledger)}")
    for cls, counts in ledger.items():
        check("classes", counts["sent"] >= 2_000, f"{cls}: {dict(counts)}")
    # no state changed by an unauthenticated frame
    changed = home_diff(r["before"], r["after"])
    check("protected state", changed == {}, f"changed: {changed}")
    check("address maps and mirror", r["state_errors"] == [], f"{r['state_errors'][:3]}")
    effects = {cls: (c["state_changed"], c["error"], dict(insider.changed[cls])) for cls, c in ledger.items()
               if c["state_changed"] or c["error"]}
    check("ledger", effects == {}, f"(state_changed, error, what changed) by class: {effects}")
    # 0 errors
    check("errors", estate.errors == 0, f"{estate.errors} errors")
    rx_errors = {name: node.counts["rx_error"] for name, node in home.nodes.items() if node.counts["rx_error"]}
    check("errors", rx_errors == {}, f"rx_error {rx_errors}")
    # every table within its limit (the node's limits for unauthenticated state, plus a few entries per
    # device of the home for what link keys vouch for)
    allowance = PER_DEVICE * len(home.nodes)
    over = {}
    for (name, table), n in r["tables"].items():
        limits = home.nodes[name].stack.nib.limits
        limit = getattr(limits, table, None)
        if table == "mac_indirect":
            limit = limits.indirect_per_child * len(home.nodes)
        elif table in ("aps_pending", "zcl_requests", "neighbors"):
            limit = 0                   # its own requests, its associated children: a handful
        if limit is None or n > limit + allowance:
            over[(name, table)] = (n, limit)
    check("tables", over == {}, f"over their limits (entries, limit): {over}")
    # the display keeps reading the meter, the gas meter keeps reporting
    during = [ok for t, ok in r["reads"] if r["start"] <= t < r["end"]]
    check("reads during", len(during) >= 0.9 * (r["end"] - r["start"]) / 10, f"{len(during)} reads")
    check("reads during", sum(during) >= 0.95 * len(during), f"{sum(during)}/{len(during)} answered")
    after = [ok for t, ok in r["reads"] if t >= r["end"] + 300]
    check("reads after", bool(after) and all(after), f"{sum(after)}/{len(after)} answered")
    acked = [ok for t, ok in r["reports"] if t >= r["end"]]
    check("gas reports after", bool(acked) and all(acked), f"{sum(acked)}/{len(acked)} acknowledged")
    return problems


@pytest.mark.parametrize("loss", [0.0, 0.1], ids=["clean", "loss-10pct"])
def test_default_home_holds_against_an_insider(loss: float) -> None:
    r = _campaign(loss)
    insider = r["insider"]
    print(f"campaign (loss {loss:.0%}): {insider.frames_sent()} forged frames in {r['wall']:.1f} s wall, "
          f"{r['cpu']:.1f} s CPU; " + "; ".join(f"{cls} {dict(c)}" for cls, c in insider.ledger.items()))
    problems = campaign_problems(r)
    tolerated = {name for name, test in OPEN_FINDINGS.items() if _still_open(test)}
    unexpected = {name: what for name, what in problems.items() if name not in tolerated}
    assert unexpected == {}, "\n".join(f"{name}: {what}" for name, what in unexpected.items())
    if problems:
        print("open findings seen: " + "; ".join(f"{name}: {what}" for name, what in problems.items()))
