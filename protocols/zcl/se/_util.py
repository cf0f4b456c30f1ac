"""Small helpers shared by the SE cluster definition modules (not part of any spec)."""

from __future__ import annotations

from typing import Any, Iterable

from protocols.zcl.clusters import AttributeDef, CommandDef


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
