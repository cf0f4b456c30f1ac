"""The ESME's Prepayment cluster (ZSE 0x0705), served in a home with a PPMID.

In such a home the ESME serves Prepayment on its meter endpoint (L{serve_prepayment}); before
each read (L{refresh_prepayment}) the attributes are taken from the ESME's GBCS state when it
has one (the prepayment balances object 0-0:94.44.34.30: meter balance, emergency credit
balance, accumulated debt ...), else they stay 0.  The PPMID (L{emulator.devices.ppmid}) is
the reader.
"""

from __future__ import annotations

__all__ = ["CLUSTER_PREPAYMENT", "PREPAYMENT_ATTRIBUTES", "has_ppmid", "serve_prepayment", "refresh_prepayment"]

CLUSTER_PREPAYMENT = 0x0705
ATTR_CREDIT_REMAINING = 0x0001
ATTR_EMERGENCY_CREDIT_REMAINING = 0x0002
ATTR_CREDIT_STATUS = 0x0003
ATTR_ACCUMULATED_DEBT = 0x0005
#: what the PPMID reads each time
PREPAYMENT_ATTRIBUTES = (ATTR_CREDIT_REMAINING, ATTR_EMERGENCY_CREDIT_REMAINING, ATTR_CREDIT_STATUS,
                         ATTR_ACCUMULATED_DEBT)
#: the ESME's prepayment balances (GBCS): meter balance, emergency credit balance, accumulated
#: debt, payment debt, time debt 1, time debt 2
BALANCES = "0-0:94.44.34.30"
#: ZSE D.7.2.2.1.4 CreditStatus bits: credit OK, low credit, emergency credit enabled,
#: emergency credit available, emergency credit selected, emergency credit in use, credit exhausted
CREDIT_OK, LOW_CREDIT, EMERGENCY_CREDIT_IN_USE, CREDIT_EXHAUSTED = 0x01, 0x02, 0x20, 0x40

def has_ppmid(home) -> bool:
    return any(d.kind == "PPMID" for d in home.spec.devices)


def serve_prepayment(esme, endpoint: int) -> None:
    """Serve Prepayment on the ESME's meter endpoint C{endpoint} (in a home with a PPMID)."""
    if has_ppmid(esme.home):
        esme.add_server(endpoint, CLUSTER_PREPAYMENT, {
            "PaymentControlConfiguration": 0, "CreditRemaining": 0, "EmergencyCreditRemaining": 0,
            "CreditStatus": CREDIT_OK, "AccumulatedDebt": 0})


def _balances(esme) -> list[int] | None:
    application = getattr(getattr(esme, "tunnel", None), "application", None)
    model = getattr(application, "model", None)
    if model is None:
        return None
    try:
        value = model.get(1, BALANCES, 2)[1]
    except (KeyError, LookupError, TypeError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("value"), list):
        return None
    return [int(m.get("value", 0)) for m in value["value"]]


def refresh_prepayment(esme, endpoint: int) -> None:
    """Before a read: the Prepayment attributes from the ESME's GBCS prepayment balances."""
    server = esme.servers.get((endpoint, CLUSTER_PREPAYMENT))
    balances = _balances(esme)
    if server is None or balances is None or len(balances) < 3:
        return
    credit, emergency, debt = balances[0], balances[1], balances[2]
    status = CREDIT_OK if credit > 0 else CREDIT_EXHAUSTED
    if credit <= 0 and emergency > 0:
        status |= EMERGENCY_CREDIT_IN_USE
    server.values[ATTR_CREDIT_REMAINING] = credit
    server.values[ATTR_EMERGENCY_CREDIT_REMAINING] = emergency
    server.values[ATTR_ACCUMULATED_DEBT] = debt
    server.values[ATTR_CREDIT_STATUS] = status
