"""The state of a home that only authenticated input may change, as comparable snapshots.

Used by the insider's ledger (L{emulator.devices.insider}: did a forged frame change its
victim?) and by security tests (snapshot before an attack, compare after).  What is covered:

 - keys: the network keys held, the active key sequence number, the link keys per peer, the
   trust centre, the node's own address and parent, its neighbour table (who is a child, who
   sleeps: where frames are queued for a poll);
 - attributes: every attribute server's attribute identifiers, values, reporting
   configurations and report timeouts, except the values the device itself keeps up to date
   (L{VOLATILE}: meter registers, the hub's clock, what a mirror is reported);
 - device state: the ESME's time offset from the hub, the hub's mirrors, the gas meter's
   mirror endpoint, the display's meters;
 - address maps: (L{address_errors}) an authenticated entry that contradicts a device's real
   address;
 - the gas mirror: (L{mirror_errors}) it never holds more gas than the meter measured.

Snapshots are plain dicts compared with C{==}; L{diff} names what changed.
"""

from __future__ import annotations

from typing import Any

CLUSTER_TIME = 0x000A
CLUSTER_METERING = 0x0702

#: (node kind, cluster, attribute) values the device itself updates (not protected by value)
VOLATILE: frozenset[tuple[str, int, int]] = frozenset({
    ("ESME", CLUSTER_METERING, 0x0000), ("ESME", CLUSTER_METERING, 0x0400), ("ESME", CLUSTER_METERING, 0x0401),
    ("GSME", CLUSTER_METERING, 0x0000), ("CH", CLUSTER_TIME, 0x0000),
})
_VOLATILE_BY_KIND: dict[tuple[str, int], frozenset[int]] = {}
for _kind, _cluster, _attr in VOLATILE:
    _VOLATILE_BY_KIND[(_kind, _cluster)] = _VOLATILE_BY_KIND.get((_kind, _cluster), frozenset()) | {_attr}
#: attributes of a mirror that its meter's reports update (checked by L{mirror_errors} instead)
MIRROR_REPORTED = frozenset({0x0000})


def protected_state(node) -> dict[Any, Any]:
    """The protected state of one device (see the module docstring).  Cheap enough to take
    around every forged frame: attribute values are kept in the server's own order, by
    reference (ZCL values are immutable: numbers, strings, octets, tuples)."""
    out: dict[Any, Any] = {}
    stack = node.stack
    if stack is not None:
        nib = stack.nib
        out["network_keys"] = (tuple(sorted(nib.network_keys.items())), nib.key_seq, nib.network_key)
        out["link_keys"] = tuple(sorted(nib.link_keys.items()))
        out["identity"] = (nib.short, nib.parent, nib.tc_eui, nib.joined, nib.pan_id)
        out["neighbors"] = tuple(sorted((short, nb.eui, nb.rx_on, nb.child) for short, nb in nib.neighbors.items()))
    kind = node.kind
    mirrors = node.mirrors.values() if kind == "CH" else ()
    for key, server in node.servers.items():
        values = server.values
        if key[0] in mirrors and key[1] == CLUSTER_METERING:
            skip = MIRROR_REPORTED
        else:
            skip = _VOLATILE_BY_KIND.get((kind, key[1]))
        if skip:
            kept = (tuple(values), tuple(item for item in values.items() if item[0] not in skip))
        else:
            kept = tuple(values.items())
        out[("attributes",) + key] = kept
        if server.reporting or server.report_timeouts:
            out[("reporting",) + key] = (tuple(server.reporting), tuple(server.report_timeouts.items()))
    if hasattr(node, "time_offset"):
        out["time_offset"] = round(node.time_offset)
    if kind == "CH":
        out["mirrors"] = tuple(node.mirrors.items())
    elif kind == "GSME":
        out["mirror_endpoint"] = node.mirror_endpoint
    elif kind == "IHD":
        out["meters"] = (node.electricity, node.gas, tuple(node.formatting))
    return out


def _name(part) -> str:
    if isinstance(part, tuple):  # (what, endpoint, cluster)
        return f"{part[0]} {part[1]}/0x{part[2]:04X}"
    return part


def diff(before: dict[Any, Any], after: dict[Any, Any]) -> list[str]:
    """Names of the parts that differ between two snapshots of one device."""
    return sorted(_name(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def home_state(home) -> dict[str, dict[str, Any]]:
    """L{protected_state} of every powered device of a home (by device name)."""
    return {name: protected_state(node) for name, node in home.nodes.items() if node.powered}


def home_diff(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Per device, what changed between two L{home_state} snapshots (devices unchanged left out)."""
    out = {}
    for name in before.keys() | after.keys():
        changed = diff(before.get(name, {}), after.get(name, {}))
        if changed:
            out[name] = changed
    return out


def address_errors(home) -> list[str]:
    """Address-map entries on the home's devices that contradict the devices' real addresses.

    Only entries the map holds as authenticated count (vouched for by a link key or the trust
    centre) when the map tells them apart (C{AddressMap.authenticated}): claims from
    forgeable fields may fill in what nothing authenticated holds (bounded, see
    L{table_sizes}), but must never move, replace or add to what was authenticated.  A map that
    does not tell them apart is judged on every entry, and entries for EUI-64s of no device of
    the home are errors too."""
    truth: dict[int, int] = {}
    for node in home.nodes.values():
        if node.powered and node.stack is not None and node.stack.short is not None and node.stack.joined:
            truth[node.spec.eui64] = node.stack.short
    shorts = {short: eui for eui, short in truth.items()}
    errors = []
    for name, node in home.nodes.items():
        if not node.powered or node.stack is None:
            continue
        addresses = node.stack.nib.addresses
        authenticated = getattr(addresses, "authenticated", None)
        own = node.stack.nib.eui64
        known = 0
        for eui, short in truth.items():
            if eui == own:
                continue
            mapped = addresses.short_of(eui)
            if mapped is not None:
                known += 1
                if mapped != short and (authenticated is None or authenticated(eui)):
                    errors.append(f"{name}: {eui:016X} at 0x{mapped:04X} (really 0x{short:04X})")
            owner = addresses.eui_of(short)
            if owner is not None and owner != eui and (authenticated is None or authenticated(owner)):
                errors.append(f"{name}: 0x{short:04X} is {owner:016X} (really {shorts[short]:016X})")
        if authenticated is None and len(addresses) > known:
            errors.append(f"{name}: {len(addresses) - known} address-map entries for EUI-64s of no device of "
                          "the home")
    return errors


def mirror_errors(home) -> list[str]:
    """A gas mirror holding more gas than its meter measured (values no report of it carried)."""
    hub = home.hub()
    if hub is None:
        return []
    errors = []
    meters = {node.spec.eui64: node for node in home.nodes.values() if node.kind == "GSME"}
    for eui, endpoint in getattr(hub, "mirrors", {}).items():
        server = hub.servers.get((endpoint, CLUSTER_METERING))
        meter = meters.get(eui)
        if server is None or meter is None:
            errors.append(f"mirror endpoint {endpoint} for {eui:016X}: no such gas meter")
            continue
        own = meter.servers.get((0x01, CLUSTER_METERING))
        mirrored = server.values.get(0x0000)
        measured = own.values.get(0x0000) if own is not None else None
        if not isinstance(mirrored, int) or isinstance(mirrored, bool) or measured is None or mirrored > measured:
            errors.append(f"mirror endpoint {endpoint}: CurrentSummationDelivered {mirrored!r}, "
                          f"the meter measured {measured!r}")
    return errors


def _size(obj, *path: str) -> int | None:
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    try:
        return len(obj)
    except TypeError:
        return None


def table_sizes(node) -> dict[str, int]:
    """Entries in each per-peer table of a device's stack and application (tables a flood of
    identities could grow): address map, neighbours, NWK frame counters, MAC duplicate
    detection, MAC indirect queue, broadcast transactions, APS duplicates, APS transmissions
    waiting for an ack, APS reassembly, ZCL requests waiting for an answer, reporting
    configurations (the most on one attribute server).  A table the stack does not have is left out."""
    stack, mac = node.stack, node.mac
    if stack is None:
        return {}
    sizes = {
        "address_map": _size(stack, "nib", "addresses"),
        "neighbors": _size(stack, "nib", "neighbors"),
        "nwk_counters": stack.nib.counters.incoming_entries() if hasattr(stack.nib.counters, "incoming_entries")
        else _size(stack, "nib", "counters", "_in"),
        "mac_duplicates": _size(mac, "_last_dsn"),
        "mac_indirect": _size(mac, "_indirect"),
        "broadcast_transactions": _size(stack, "nwk", "_btt"),
        "aps_duplicates": _size(stack, "aps", "_seen"),
        "aps_pending": _size(stack, "aps", "_pending"),
        "aps_reassembly": _size(stack, "aps", "_reassembler"),
        "zcl_requests": _size(node, "_requests"),
        "reporting_configurations": max((len(s.reporting) + len(s.report_timeouts) for s in node.servers.values()),
                                        default=0),
    }
    return {name: n for name, n in sizes.items() if n is not None}


__all__ = ["protected_state", "diff", "home_state", "home_diff", "address_errors", "mirror_errors", "table_sizes",
           "VOLATILE"]
