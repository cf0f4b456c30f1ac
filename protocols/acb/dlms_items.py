"""DLMS/COSEM building blocks of the transform (GBCS 4.1 / wire-format notes 4.1).

  - L{catalogue_items}: the COSEM attribute / method descriptors each DLMS use case uses,
    read from the shipped payload catalogue (C{protocols/gbcs/data/payload_catalogue.tsv},
    lines such as C{DLMS get IC3 1.0.2.8.0.255 a2 ; DLMS get-sel(sel1) IC7 ... a2});
  - L{dlms_date_time}: the 12-byte COSEM date-time of a UTC instant (and the GBCS
    special values "now" and "never");
  - L{range_selector}: the selective-access parameters of a log read (selector 1, range by
    the UTC time column, seconds since 2000-01-01);
  - L{protection_parameters}: the Data-Protection (IC 30) parameters of a sensitive read
    (wire-format notes 4.1.6).
"""

from __future__ import annotations

import csv
import datetime
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from protocols.gbcs.payloads import dlms

from .request import EPOCH_2000

__all__ = ["CatalogueItem", "catalogue_items", "dlms_date_time", "DATE_TIME_NOW", "DATE_TIME_NEVER",
           "utc_seconds", "range_selector", "protection_parameters", "obis_from_dotted"]

_CATALOGUE = Path(__file__).resolve().parent.parent / "gbcs" / "data" / "payload_catalogue.tsv"
_ITEM_RE = re.compile(r"^DLMS (get|set|action|get-sel\(sel(\d+)\)) IC(\d+) (\d+(?:\.\d+){5}) ([am])(\d+)$")

#: COSEM date-time "not specified" except deviation/status: GBCS "now" / "immediately".
DATE_TIME_NOW = bytes.fromhex("0000000000000000008000FF")
#: All fields wildcarded: GBCS "never" (cancellation of a future-dated command).
DATE_TIME_NEVER = bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF")


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """One Access-Request-Specification of a use case: C{kind} get / set / action / get-with-selection."""

    kind: str
    class_id: int
    obis: str
    item_id: int
    selector: int | None = None


def obis_from_dotted(text: str) -> str:
    """C{1.0.2.8.0.255} -> C{1-0:2.8.0.255} (the codec's OBIS notation)."""
    p = text.split(".")
    return f"{p[0]}-{p[1]}:{'.'.join(p[2:])}"


@cache
def _catalogue() -> dict[int, tuple[tuple[CatalogueItem, ...], ...]]:
    table: dict[int, list[tuple[CatalogueItem, ...]]] = {}
    with open(_CATALOGUE, newline="", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 3 or not re.fullmatch(r"[0-9A-Fa-f]{4}", row[0]):
                continue
            items = []
            for part in row[2].split(";"):
                m = _ITEM_RE.match(part.strip())
                if m is None:
                    items = None
                    break
                verb = m.group(1)
                kind = "get-with-selection" if verb.startswith("get-sel") else verb
                items.append(CatalogueItem(kind, int(m.group(3)), obis_from_dotted(m.group(4)),
                                           int(m.group(6)), int(m.group(2)) if m.group(2) else None))
            if items:
                table.setdefault(int(row[0], 16), []).append(tuple(items))
    return {k: tuple(v) for k, v in table.items()}


def catalogue_items(message_code: int) -> tuple[tuple[CatalogueItem, ...], ...]:
    """The DLMS descriptor lists of a message code (one per payload variant); () if not DLMS."""
    return _catalogue().get(message_code, ())


def utc_seconds(when: datetime.datetime) -> int:
    """UTC seconds since 2000-01-01 (the GBCS time base), clamped to 32 bits."""
    s = int((when - EPOCH_2000).total_seconds())
    return max(0, min(s, 0xFFFFFFFF))


def dlms_date_time(when: datetime.datetime) -> bytes:
    """The 12-byte COSEM date-time of a UTC instant, as GBCS commands carry it.

    Day of week not specified (FF), hundredths 0, deviation not specified (8000), clock
    status FF: the form of every date-time a DCC transform writes.
    """
    w = when.astimezone(datetime.timezone.utc)
    return (w.year.to_bytes(2, "big") + bytes((w.month, w.day, 0xFF, w.hour, w.minute, w.second, 0))
            + b"\x80\x00\xFF")


def range_selector(start: datetime.datetime, end: datetime.datetime) -> dict:
    """Selective access by range (selector 1) on the UTC time column of a GBCS log.

    Restricting object: Data (class 1) 0-0:94.44.100.255 attribute 2, data index 0; from / to
    as double-long-unsigned UTC seconds since 2000; all columns selected (empty array).
    """
    return dlms.structure(
        dlms.structure(dlms.make_data("long-unsigned", 1), dlms.octet_string(bytes.fromhex("00005E2C64FF")),
                       dlms.make_data("integer", 2), dlms.make_data("long-unsigned", 0)),
        dlms.make_data("double-long-unsigned", utc_seconds(start)),
        dlms.make_data("double-long-unsigned", utc_seconds(end)),
        dlms.array())


def protection_parameters(counter: int, decrypting_party: int, device: int) -> dict:
    """The protection-parameters array of a Data-Protection get_protected_attributes call.

    One entry: protection type 2 (authentication and encryption); transaction-id C{04} ||
    counter; originator = the party that will decrypt; recipient = the device; no other
    information; key info: agreed key, key parameters C{02} (static-static C(0e, 2s)).
    """
    return dlms.array(dlms.structure(
        dlms.make_data("enum", 2),
        dlms.structure(
            dlms.octet_string(b"\x04" + counter.to_bytes(8, "big")),
            dlms.octet_string(decrypting_party.to_bytes(8, "big")),
            dlms.octet_string(device.to_bytes(8, "big")),
            dlms.octet_string(b""),
            dlms.structure(dlms.make_data("enum", 2),
                           dlms.structure(dlms.octet_string(b"\x02"), dlms.octet_string(b""))))))
