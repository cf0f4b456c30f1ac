"""Small helpers shared by the SE cluster definition modules (not part of any spec)."""

from __future__ import annotations

from typing import Any, Iterable

from protocols.zcl.cluster_defs import AttributeDef, CommandDef


def attributes(rows: Iterable[tuple]) -> dict[int, AttributeDef]:
    """Build an attribute table from C{(id, name, type_id[, access[, default]])} rows."""
    out: dict[int, AttributeDef] = {}
    for row in rows:
        attr_id, *rest = row
        if attr_id in out:
            raise ValueError(f"duplicate attribute 0x{attr_id:04X}")
        out[attr_id] = AttributeDef(*rest)
    return out


def commands(*defs: CommandDef) -> dict[int, CommandDef]:
    """Index command definitions by identifier."""
    out: dict[int, CommandDef] = {}
    for d in defs:
        if d.command_id in out:
            raise ValueError(f"duplicate command 0x{d.command_id:02X}")
        out[d.command_id] = d
    return out


def cmd(command_id: int, name: str, *fields: tuple[str, Any],
        optional_from: int | None = None) -> CommandDef:
    """Shorthand for L{CommandDef}."""
    return CommandDef(command_id, name, tuple(fields), optional_from)


def consumption_history(base: int, period: str, quantity: str, last: int, type_id: int,
                        access: str = "rp", default: Any = 0) -> list[tuple]:
    """Attribute rows of a ZSE history series: C{Current<period><quantity>},
    C{Previous<period><quantity>}, C{Previous<period>2<quantity>} ... up to C{last}, each as
    a Delivered and a Received attribute, on consecutive identifiers from C{base} (e.g. the
    Metering weekly consumption from 0x0430, the Prepayment monthly cost from 0x0540)."""
    periods = [f"Current{period}", f"Previous{period}"] + [
        f"Previous{period}{n}" for n in range(2, last + 1)]
    rows = []
    for i, p in enumerate(periods):
        rows.append((base + 2 * i, f"{p}{quantity}Delivered", type_id, access, default))
        rows.append((base + 2 * i + 1, f"{p}{quantity}Received", type_id, access, default))
    return rows
