"""Wireshark extras: the ZigBee pre-configured key table (UAT C{zigbee_pc_keys}).

Format (han-zigbee-wireshark.md section 5.3): one row per key, three quoted CSV
fields -- 32 hex digits, byte order C{"Normal"}, a label::

    "00112233445566778899AABBCCDDEEFF","Normal","home-0001 network key #0"

Wireshark tries every row on every secured frame and derives the key-transport and
key-load keys itself, so exporting the network key, the install-code link keys and
every link key made at run time is enough to decrypt a whole capture.  This is the one
place where key material is written out, and only because the operator asked for it
with C{--keys FILE}.
"""

from __future__ import annotations

from typing import IO


def key_row(key: bytes, label: str) -> str:
    """Format one C{zigbee_pc_keys} row (without the newline).

    @raise ValueError: if the key is not 16 bytes or the label has a double quote.
    """
    if len(key) != 16:
        raise ValueError(f"a ZigBee key is 16 bytes, got {len(key)}")
    if '"' in label or "\n" in label:
        raise ValueError(f"key label must not contain quotes or newlines: {label!r}")
    return f'"{key.hex().upper()}","Normal","{label}"'


def tshark_uat_options(rows: list[tuple[bytes, str]]) -> list[str]:
    """The C{-o uat:zigbee_pc_keys:...} arguments that give tshark the same keys."""
    args: list[str] = []
    for key, label in rows:
        args += ["-o", f"uat:zigbee_pc_keys:{key_row(key, label)}"]
    return args


class KeyFileWriter:
    """Appends key rows to a C{zigbee_pc_keys} file as keys come into existence.

    Rows are written in the order keys are made (deterministic in virtual time), each
    key once; the file is flushed after every row so a live Wireshark can re-read it.
    """

    __slots__ = ("_file", "_seen")

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self._seen: set[bytes] = set()

    def add(self, key: bytes, label: str) -> bool:
        """Write C{key} unless it was written before; return whether a row was written."""
        if key in self._seen:
            return False
        row = key_row(key, label)
        self._seen.add(key)
        self._file.write(row + "\n")
        self._file.flush()
        return True

    def close(self) -> None:
        """Close the underlying file."""
        self._file.close()
