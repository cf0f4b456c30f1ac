"""The DCC side of the emulator: the DSP host (DUIS service-user interface, Smart Meter
Inventory, non-device services) and its boundary to the Access Control Broker.

  - L{emulator.dcc.inventory}: devices, statuses, registrations, DCC Users;
  - L{emulator.dcc.config}: the topology's C{dcc:} section -> an inventory;
  - L{emulator.dcc.host}: request handling (sans-IO, injected clock), the ACB interface;
  - L{emulator.dcc.services}: non-device service requests on the inventory;
  - L{emulator.dcc.web}: the twisted.web adapter (C{/api/v1/serviceS|T|D}, polling, delivery).
"""

from __future__ import annotations

from emulator.dcc.config import DccConfig
from emulator.dcc.host import DccHost

__all__ = ["build_host"]


def build_host(config: DccConfig, clock, deliver=None, metrics=None, *, seed: int = 1, wan=None) -> DccHost:
    """A L{DccHost} for a loaded C{dcc:} configuration with its Access Control Broker
    (L{emulator.dcc.acb.AcbBroker}: the transform keyed by the DCC key store, the DCC id as the
    ACB's EUI-64, values the DCC makes up drawn from C{seed}; commands to C{wan(device, command)}
    or, until the estate attaches its WAN, held in their CSP's queue).  Responses are
    XML-signed with the DCC's own DS key when the key store has it; anomaly detection uses
    the section's C{anomaly_detection} thresholds."""
    from emulator.dcc.acb import AcbBroker
    from emulator.rng import derive_rng
    from protocols.acb import Transformer
    from protocols.gbcs.crypto import GbcsCrypto

    dcc = config.inventory.dcc_id
    key = config.keystore.private_key(dcc, "ds")
    cert = config.keystore.certificate(dcc, "ds")
    transformer = Transformer(GbcsCrypto(config.keystore, dcc), clock, rng=derive_rng(seed, "dcc", "acb"))
    broker = AcbBroker(config.inventory, transformer, clock, wan=wan, metrics=metrics)
    host = DccHost(config.inventory, clock, broker=broker, signing_key=key, signing_certificate=cert,
                   deliver=deliver, metrics=metrics, thresholds=config.thresholds)
    broker.attach(host)
    return host
