"""A UTRN keyed in at the ESME (local top-up), GBCS 14.3 / spec/gbcs-wire-format.md 4.5.

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
from protocols.gbcs.utrn import decode_utrn, verify_utrn

from emulator.devices.gbcs.security import ROLE_SUPPLIER

__all__ = ["ALERT_CREDIT_ADDED_LOCALLY", "ALERT_DUPLICATE_UTRN", "ALERT_UTRN_NOT_AUTHENTIC", "KeypadState",
           "enter_utrn", "next_utrn_counter"]

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


def enter_utrn(esme: Any, utrn: str) -> bool:
    """The consumer keys C{utrn} in at the ESME; True if the credit was added.  False (and no
    alert) for a device that is not an ESME or has no supplier installed."""
    if getattr(esme, "device_type", "") != "ESME":
        return False
    supplier = next((p.eui for p in esme.security.remote_parties.values() if p.role == ROLE_SUPPLIER), None)
    if supplier is None:
        return False
    state = _state(esme)
    try:
        token = decode_utrn(utrn)
    except (CodecError, ValueError):
        esme.raise_alert(ALERT_UTRN_NOT_AUTHENTIC, critical=False)
        return False
    counter = _full_counter(state, token.counter_high_bits)
    if counter in state.accepted:
        esme.raise_alert(ALERT_DUPLICATE_UTRN, critical=False)
        return False
    try:
        u = verify_utrn(esme.crypto, utrn, supplier, esme.eui, counter)
    except (CodecError, KeyError):
        esme.raise_alert(ALERT_UTRN_NOT_AUTHENTIC, critical=False)
        return False
    balance = esme.model.objects.get((112, METER_BALANCE))
    if balance is not None:
        value = balance.writable(2)
        value["value"] = int(value["value"]) + u.value * (100 if u.value_class == 1 else 1)
    state.accepted.add(counter)
    state.highest = max(state.highest, counter)
    esme.raise_alert(ALERT_CREDIT_ADDED_LOCALLY, critical=False)
    return True
