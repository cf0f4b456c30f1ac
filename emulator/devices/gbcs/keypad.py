"""A UTRN entered at the premises (local top-up), GBCS 14.3 / spec/gbcs-wire-format.md 4.5:
keyed in at the ESME, or keyed in at the PPMID and sent to the GSME (PCS01,
L{emulator.devices.gbcs.han_commands}); both are checked here (L{check_local_utrn}).

The consumer types the 20 digits the supplier gave them.  A manually keyed UTRN carries only
bits 32..41 of its 64-bit counter (the low 32 bits of a UTRN counter are zero): the meter takes
the higher bits from the highest UTRN counter it accepted, moving to the next 2^42 block when
that would not be a newer counter.  Then:

  - a counter the meter already accepted: rejected, alert 0x8F51 "Duplicate UTRN entered";
  - a tag that does not verify with the supplier's prepayment key (or digits that are no UTRN):
    rejected, alert 0x8F63 "UTRN not Authentic";
  - otherwise the value is credited to the meter balance (0-0:19.10.0.255, pennies; a pounds
    UTRN counts 100 each) and the meter tells its supplier with the generic non-critical alert
    0x810E "Credit Added Locally".

All three alerts are generic non-critical alerts (0x1001) to the installed supplier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocols.errors import CodecError
from protocols.gbcs.utrn import Utrn, decode_utrn, verify_utrn

from emulator.devices.gbcs.security import ROLE_SUPPLIER

__all__ = ["ALERT_CREDIT_ADDED_LOCALLY", "ALERT_DUPLICATE_UTRN", "ALERT_UTRN_NOT_AUTHENTIC", "KeypadState",
           "enter_utrn", "next_utrn_counter",
           "UtrnCheck", "check_local_utrn", "commit_utrn", "installed_supplier"]

ALERT_CREDIT_ADDED_LOCALLY = 0x810E
ALERT_DUPLICATE_UTRN = 0x8F51
ALERT_UTRN_NOT_AUTHENTIC = 0x8F63
METER_BALANCE = "0-0:19.10.0.255"
_BLOCK = 1 << 42


@dataclass(slots=True)
class KeypadState:
    """The UTRN counters the meter accepted from its keypad."""

    highest: int = 0
    accepted: set[int] = field(default_factory=set)


def _state(esme: Any) -> KeypadState:
    state = getattr(esme, "keypad", None)
    if state is None:
        state = esme.keypad = KeypadState()
    return state


def next_utrn_counter(esme: Any) -> int:
    """The counter a supplier's next UTRN for this meter carries (low 32 bits zero)."""
    return ((_state(esme).highest >> 32) + 1) << 32


def _full_counter(state: KeypadState, high_bits: int) -> int:
    counter = ((state.highest // _BLOCK) * _BLOCK) | (high_bits << 32)
    if counter <= state.highest and counter not in state.accepted:
        counter += _BLOCK
    return counter


def installed_supplier(device: Any) -> int | None:
    """The EUI of the supplier installed on the device (whose prepayment key signs its UTRNs)."""
    return next((p.eui for p in device.security.remote_parties.values() if p.role == ROLE_SUPPLIER), None)


@dataclass(frozen=True, slots=True)
class UtrnCheck:
    """The outcome of checking a UTRN entered locally (keypad or PPMID): C{alert} is None when
    it is accepted, else L{ALERT_DUPLICATE_UTRN} or L{ALERT_UTRN_NOT_AUTHENTIC}."""

    alert: int | None
    counter: int = 0
    token: Utrn | None = None

    @property
    def accepted(self) -> bool:
        return self.alert is None


def check_local_utrn(device: Any, utrn: str, supplier: int) -> UtrnCheck:
    """Check a UTRN entered at the premises (only 10 counter bits travel): the full counter is
    inferred from the highest one accepted, then duplicate and authenticity are checked with
    C{supplier}'s prepayment key.  Changes nothing (L{commit_utrn} records an accepted one)."""
    state = _state(device)
    try:
        token = decode_utrn(utrn)
    except (CodecError, ValueError):
        return UtrnCheck(ALERT_UTRN_NOT_AUTHENTIC)
    counter = _full_counter(state, token.counter_high_bits)
    if counter in state.accepted:
        return UtrnCheck(ALERT_DUPLICATE_UTRN, counter, token)
    try:
        token = verify_utrn(device.crypto, utrn, supplier, device.eui, counter)
    except (CodecError, KeyError):
        return UtrnCheck(ALERT_UTRN_NOT_AUTHENTIC, counter, token)
    return UtrnCheck(None, counter, token)


def commit_utrn(device: Any, counter: int) -> None:
    """Record an accepted UTRN counter (a later UTRN with it is a duplicate)."""
    state = _state(device)
    state.accepted.add(counter)
    state.highest = max(state.highest, counter)


def enter_utrn(esme: Any, utrn: str) -> bool:
    """The consumer keys C{utrn} in at the ESME; True if the credit was added.  False (and no
    alert) for a device that is not an ESME or has no supplier installed."""
    if getattr(esme, "device_type", "") != "ESME":
        return False
    supplier = installed_supplier(esme)
    if supplier is None:
        return False
    check = check_local_utrn(esme, utrn, supplier)
    if not check.accepted:
        esme.raise_alert(check.alert, critical=False)
        return False
    u = check.token
    balance = esme.model.objects.get((112, METER_BALANCE))
    if balance is not None:
        value = balance.writable(2)
        value["value"] = int(value["value"]) + u.value * (100 if u.value_class == 1 else 1)
    commit_utrn(esme, check.counter)
    esme.raise_alert(ALERT_CREDIT_ADDED_LOCALLY, critical=False)
    return True
