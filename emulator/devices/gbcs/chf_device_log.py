"""The CHF Device Log (the HAN "whitelist") and its CS14 back-up alert.

GBCS (use cases CCS01, CCS02, CCS03, CS14): the Communications Hub Function keeps one log of
the devices allowed on its HAN: per device its Entity Identifier (EUI-64), device type, the
install code the CCS01 command registered (the key SMHAN joining starts from) and, once the
device has established a TC link key with the CHF's trust centre, the hash of that key.

One object holds it (L{ChfDeviceLog}): the CHF's COSEM ZigBee network control object
(class 104, C{0-0:30.3.0.255}; L{emulator.devices.gbcs.dlms_device.Chf}) executes CCS01
(register_device), CCS02 (unregister_device) and CCS03 (restore) on it, and the trust centre
of the running Communications Hub (L{emulator.devices.hub.CommsHub}) reads the install codes
it admits joiners with from it and records in it the TC link keys that key establishment
(CBKE) makes.

CS14 (message code 0x0018, alert code 0x8F12, to the ACB, non-critical: MACed): "Whenever an
IEEE address is added to or removed from the CHF Device Log and whenever a Hashed TC Link Key
changes in the CHF Device Log", the CHF sends a back-up of the log.  Its data (spec 4.1.4) is
the ZigBee network control back-up structure, the one CCS03 restores from:
{backup date-time, extended PAN ID (octet-string 8), array of {device EUI-64 (octet-string 8),
hashed TC link key (octet-string 16, or zero length where no TC link key was established)}}.
The 8-octet member is the extended PAN ID of the CH's HAN: CCS03 carries the same member back
(restore_PAN.extended_PAN_ID) and the CH forms its network with it.

The hash is the ZigBee AES-MMO hash (ZigBee B.6, L{protocols.zigbee.keys.aes_mmo_hash}) of the
TC link key: the hash function of ZigBee Smart Energy (install code -> link key, certificate
hashes in CBKE), 16 octets as the field is.  A restore (CCS03) changes the log like any other
change: it raises CS14 when the set of devices or their hashes differ afterwards.
"""

from __future__ import annotations

from typing import Iterator

from protocols.gbcs.payloads import dlms
from protocols.zigbee.keys import aes_mmo_hash

__all__ = ["ChfDeviceLog", "CS14_ALERT", "ALERT_CHF_DEVICE_LOG_CHANGED", "hash_tc_link_key", "backup_data"]

#: CS14 Device Addition To / Removal From HAN Whitelist Alerts (message code)
CS14_ALERT = 0x0018
#: CHF Device Log Changed (alert code)
ALERT_CHF_DEVICE_LOG_CHANGED = 0x8F12


def hash_tc_link_key(link_key: bytes) -> bytes:
    """The hashed TC link key the log keeps (16 octets): AES-MMO of the key."""
    if len(link_key) != 16:
        raise ValueError(f"TC link key of {len(link_key)} octets, expected 16")
    return aes_mmo_hash(link_key)


class ChfDeviceLog:
    """EUI-64 octets -> (GBCS device type, registered key), in the order the devices were added,
    with the hashed TC link key of each device that established one.

    Mutators return True when the log changed in what CS14 reports (a device added or
    removed, a hashed TC link key changed); the caller (the CHF) then sends the back-up.
    """

    __slots__ = ("_entries", "_hashed")

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[int, bytes]] = {}
        self._hashed: dict[bytes, bytes] = {}

    # ------------------------------------------------------------------ reading

    def __contains__(self, eui: object) -> bool:
        return eui in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._entries)

    def items(self):
        """(EUI-64 octets, (device type, registered key)) per entry, in the log's order."""
        return self._entries.items()

    def get(self, eui: bytes) -> tuple[int, bytes] | None:
        return self._entries.get(eui)

    def hashed_tc_link_key(self, eui: bytes) -> bytes:
        """The entry's hashed TC link key (empty: no TC link key established)."""
        return self._hashed.get(eui, b"")

    def backup_entries(self) -> list[tuple[bytes, bytes]]:
        """(EUI-64, hashed TC link key or b"") per entry, in the log's order (what CS14 lists)."""
        return [(eui, self._hashed.get(eui, b"")) for eui in self._entries]

    # ------------------------------------------------------------------ changing

    def register(self, eui: bytes, device_type: int, key: bytes) -> bool:
        """CCS01 register_device: add the device; an entry already there keeps its key."""
        if eui in self._entries:
            return False
        self._entries[eui] = (device_type, key)
        return True

    def unregister(self, eui: bytes) -> bool:
        """CCS02 unregister_device: remove the device and its TC link key hash."""
        if self._entries.pop(eui, None) is None:
            return False
        self._hashed.pop(eui, None)
        return True

    def restore(self, entries: list[tuple[bytes, bytes]]) -> bool:
        """CCS03 restore: the log becomes the back-up's devices with their hashed TC link keys.
        The back-up carries no device types or install codes: those of a device already in the
        log are kept."""
        before = self.backup_entries()
        old = self._entries
        self._entries = {eui: old.get(eui, (0, b"")) for eui, _hashed in entries}
        self._hashed = {eui: hashed for eui, hashed in entries if hashed}
        return sorted(self.backup_entries()) != sorted(before)

    def tc_link_key_established(self, eui: bytes, link_key: bytes) -> bool:
        """The device established C{link_key} as its TC link key (e.g. by CBKE): record its hash.
        A device not in the log has no entry to record it in (False)."""
        if eui not in self._entries:
            return False
        hashed = hash_tc_link_key(link_key)
        if self._hashed.get(eui) == hashed:
            return False
        self._hashed[eui] = hashed
        return True


def backup_data(log: ChfDeviceLog, date_time: bytes, extended_pan_id: int) -> dict:
    """The ZigBee network control back-up structure of C{log} (CS14's data, IC104 backup's
    result): {date-time, extended PAN ID, array of {EUI-64, hashed TC link key}}."""
    entries = [dlms.structure(dlms.octet_string(eui), dlms.octet_string(hashed))
               for eui, hashed in log.backup_entries()]
    return dlms.structure(dlms.octet_string(date_time), dlms.octet_string(extended_pan_id.to_bytes(8, "big")),
                          dlms.array(*entries))
