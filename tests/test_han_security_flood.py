"""A flood of fresh identities (every frame a new EUI-64 and address, NWK-secured with the
network key): every table a node keeps stays within its limit, the display's reads go on
being answered, the gas meter's reports acknowledged."""

from __future__ import annotations

from pathlib import Path

from protocols.zcl import foundation as zf
from protocols.zigbee import aps as _aps
from protocols.zigbee import zdo as _zdo
from protocols.zigbee.limits import DEFAULT_LIMITS
from tests.han_forge import Forger
from tests.han_helpers import run_estate, topology_text

IDENTITIES = 2000
RATE = 10.0  # frames/s
START = 60.0


def _tables(node) -> dict[str, int]:
    stack = node.stack
    nib = stack.nib
    mac = node.mac
    return {
        # entries of senders with no link key
        "nwk_counters": nib.counters.unknown_entries(),
        "address_map": sum(1 for eui in list(nib.addresses._by_eui) if not nib.addresses.authenticated(eui)),
        "mac_duplicates": len(mac._last_dsn),
        "aps_reassembly": len(stack.aps._reassembler),
        "aps_duplicates": len(stack.aps._seen),
        "broadcast_transactions": len(stack.nwk._btt),
        "indirect_per_child": max([sum(1 for e in mac._indirect if e.dst_addr == d)
                                   for d in {e.dst_addr for e in mac._indirect}] or [0]),
        "reporting_configurations": max([len(s.reporting) + len(s.report_timeouts) for s in node.servers.values()]
                                        or [0]),
    }


def test_fresh_identity_flood_keeps_every_table_bounded(tmp_path: Path) -> None:
    peaks: dict[str, dict[str, int]] = {}
    marks: dict[str, int] = {}

    def setup(estate, clock) -> None:
        home = estate.homes[0]
        nodes = home.nodes

        def sample() -> None:
            for name, node in nodes.items():
                for table, size in _tables(node).items():
                    peak = peaks.setdefault(name, {})
                    peak[table] = max(peak.get(table, 0), size)

        def start() -> None:
            marks["reads_sent"] = nodes["ihd"].reads_sent
            marks["reads_answered"] = nodes["ihd"].reads_answered
            f = Forger(home)
            f._free_at = clock.seconds()
            targets = [nodes["esme"].stack.short, 0x0000, nodes["ihd"].stack.short]
            read = zf.global_frame(zf.ReadAttributes((0x0000,)), 1)
            configure = zf.global_frame(zf.ConfigureReporting((zf.AttributeReportingConfigurationRecord(
                1, 0x0000, timeout_period=1),)), 2)
            gap = 1.0 / RATE
            for i in range(IDENTITIES):
                eui, short = 0x00AB000000000000 + i, 0x1000 + i
                dst = targets[i % 3]
                kind = i % 6
                if kind == 0:
                    aps = f.zdp(_zdo.NodeDescReq(dst), i & 0xFF)
                elif kind == 1:
                    aps = f.zcl(0x0702, read, counter=i, source=eui)
                elif kind == 2:
                    aps = f.zcl(0x0702, configure, key_id=1, counter=i, source=eui)
                elif kind == 3:
                    # the first block of a fragmented transfer (HA profile: past the SE policy)
                    aps = _aps.encode_aps(_aps.ApsFrame(_aps.APS_FRAME_DATA, 0, i & 0xFF, 1, None, 0x0006, 0x0104,
                                                        1, b"x" * 20, False, True, fragmentation=1, block_number=4))
                elif kind == 4:
                    aps = f.zdp(_zdo.DeviceAnnce(short, eui, 0x8E), i & 0xFF)
                    dst = 0xFFFD
                else:
                    aps = f.zdp(_zdo.IeeeAddrReq(dst, 0, 0), i & 0xFF)
                f.send(dst, aps, src_short=short, source=eui)
                f._free_at = clock.seconds() + (i + 1) * gap
            for k in range(int(IDENTITIES / RATE / 10) + 2):
                clock.callLater(k * 10.0, sample)

            def end() -> None:
                marks["during_sent"] = nodes["ihd"].reads_sent - marks["reads_sent"]
                marks["during_answered"] = nodes["ihd"].reads_answered - marks["reads_answered"]
                marks["reports_after"] = nodes["gsme"].reports_acked

            clock.callLater(IDENTITIES / RATE, end)

        clock.callLater(START, start)

    duration = START + IDENTITIES / RATE + 1900.0  # (the GSME wakes every 1800 s)
    estate = run_estate(tmp_path, topology_text(), 7, duration, pcap=False, before_run=setup)
    assert estate.errors == 0
    home = estate.homes[0]
    limits = DEFAULT_LIMITS
    for name, peak in peaks.items():
        for table, size in peak.items():
            assert size <= getattr(limits, table), (name, table, size)
    # the flood reached the tables it aims at (the limits were hit, not just respected)
    assert peaks["esme"]["mac_duplicates"] == limits.mac_duplicates
    assert peaks["esme"]["address_map"] == limits.address_map
    assert peaks["esme"]["nwk_counters"] == limits.nwk_counters
    assert peaks["esme"]["aps_reassembly"] == limits.aps_reassembly
    assert home.nodes["esme"].counts["aps_reassembly_evicted"] >= 1
    assert home.nodes["esme"].counts["nwk_counters_evicted"] >= 1
    # service during and after the attack
    assert marks["during_sent"] >= IDENTITIES / RATE / 10 - 2
    assert marks["during_answered"] >= 0.95 * marks["during_sent"]
    gsme = home.nodes["gsme"]
    assert gsme.reports_acked >= marks["reports_after"] + 1 and gsme.reports_acked == gsme.reports_sent
