"""The PPMID (prepayment meter interface device) as a HAN device.

PPMID: a mains-powered display (a ZigBee router) that joins, runs CBKE with the CH, finds the
ESME (Match_Desc for a Metering server, as the IHD does; the CH's GPF mirror is a gas meter
and is skipped), then every C{read_interval} s reads the ESME's Prepayment cluster (0x0705:
CreditRemaining, EmergencyCreditRemaining, CreditStatus, AccumulatedDebt) and now and then
asks for the current Price (GetCurrentPrice -> PublishPrice).  Its GBCS application (the
PPMID use cases the CHF routes to it: joining, firmware version CS08 ...) is hosted on its
GB-HRGP tunnel client (L{emulator.devices.tunnel.TunnelClientHost}).

The ESME side (the Prepayment cluster it serves) is L{emulator.devices.prepayment}.

The consumer's top-up and emergency credit requests for the gas meter are GBCS HAN-only
commands (PCS01 L{Ppmid.key_in_utrn}, PCS02 L{Ppmid.select_emergency_credit};
L{emulator.devices.gbcs.han_commands}) sent up the PPMID's tunnel to the CHF, which routes them
to the GSME.
"""

from __future__ import annotations

from emulator.devices.base import (CLUSTER_BASIC, CLUSTER_METERING, CLUSTER_PRICE, CLUSTER_TIME,
                                   PROFILE_SE, HanDevice)
from emulator.devices.discovery import make_discovery
from emulator.devices.gbcs import han_commands
from emulator.devices.gbcs.provisioning import provide_ka_key
from emulator.devices.meters import MeterSearch, PriceReader
from emulator.devices.prepayment import (ATTR_ACCUMULATED_DEBT, ATTR_CREDIT_REMAINING, ATTR_CREDIT_STATUS,
                                         ATTR_EMERGENCY_CREDIT_REMAINING, CLUSTER_PREPAYMENT, PREPAYMENT_ATTRIBUTES)
from emulator.devices.tunnel import TUNNELING_CLUSTER_ID, TunnelClientHost
from emulator.rng import derive_rng
from protocols.zigbee.zdo import SimpleDescriptor

__all__ = ["Ppmid"]

PPMID_DEVICE_ID = 0x0509  # ZSE Prepayment Terminal


class Ppmid(MeterSearch, PriceReader, HanDevice):
    """Prepayment Meter Interface Device (see the module docstring)."""

    kind = "PPMID"
    role = "router"
    rx_on_when_idle = True
    device_id = PPMID_DEVICE_ID
    model = "emulated PPMID"
    ENDPOINT = 0x01
    price_endpoint = ENDPOINT
    mirror_wanted = False       # the CH holds only the gas mirror

    def __init__(self, home, spec, seed) -> None:
        super().__init__(home, spec, seed)
        self.read_interval = float(spec.params.get("read_interval", 60))
        self.electricity: tuple[int, int] | None = None
        self.reads_sent = 0
        self.reads_answered = 0
        self.credit: dict[str, int] = {}
        self.prices = 0
        self.unit_rate_p_per_kwh: float | None = None
        self.discovery = make_discovery(self.clock, derive_rng(seed, home.spec.name, spec.name, "discovery"), self)
        self.tunnel: TunnelClientHost | None = None
        self._read_call = None

    def endpoint_descriptors(self) -> list[SimpleDescriptor]:
        return [SimpleDescriptor(self.ENDPOINT, PROFILE_SE, self.device_id, 0, (CLUSTER_BASIC,),
                                 (CLUSTER_METERING, CLUSTER_PRICE, CLUSTER_TIME, CLUSTER_PREPAYMENT,
                                  TUNNELING_CLUSTER_ID))]

    def start(self) -> None:
        # GBCS from the CHF (PPMID use cases): mains powered, it keeps its tunnel open
        self.tunnel = TunnelClientHost(self, self.ENDPOINT, keep_open=True)
        self.add_server(self.ENDPOINT, CLUSTER_BASIC, self.basic_values(power_source=1))
        super().start()

    def joined(self) -> None:
        self.read_attributes(0x0000, 0x01, self.ENDPOINT, CLUSTER_TIME, (0x0000, 0x0001), lambda v: None)
        self.discovery.start()
        self.tunnel.start()

    # ------------------------------------------------------------------ discovery (MeterSearch)

    def meter_found(self, short: int, endpoint: int) -> None:
        if self.electricity is None:
            self.electricity = (short, endpoint)
            self.discovery.complete()
            self._read()
            self._get_price()

    # ------------------------------------------------------------------ reading

    def _read(self) -> None:
        if self._read_call is not None and self._read_call.active():
            self._read_call.cancel()
        self._read_call = self.clock.callLater(self.read_interval, self._read)
        short, ep = self.electricity
        self.reads_sent += 1
        self.read_attributes(short, ep, self.ENDPOINT, CLUSTER_PREPAYMENT, PREPAYMENT_ATTRIBUTES, self._credit_read,
                             timeout=min(self.read_interval * 0.9, 8.0))

    def _credit_read(self, values) -> None:
        if values is None:
            self.metrics.zcl_requests.labels(self.kind, "timeout").inc()
            return
        self.reads_answered += 1
        names = {ATTR_CREDIT_REMAINING: "credit", ATTR_EMERGENCY_CREDIT_REMAINING: "emergency_credit",
                 ATTR_CREDIT_STATUS: "status", ATTR_ACCUMULATED_DEBT: "debt"}
        self.credit = {names[k]: v for k, v in values.items() if k in names and isinstance(v, int)}
        self.metrics.zcl_requests.labels(self.kind, "answered").inc()

    # ------------------------------------------------------------------ HAN-only GBCS (PCS01, PCS02)

    def key_in_utrn(self, utrn: str) -> bool:
        """The consumer keys a UTRN in: PCS01 Consumer Top Up to the home's GSME (False when it
        is not 20 digits, the PPMID has no GBCS logic or the home no GSME; counted).  The
        GSME checks it; its answer lands in L{han_answers}."""
        digits = str(utrn).replace(" ", "")
        if len(digits) != 20 or not (digits.isascii() and digits.isdigit()):
            self._count("utrn_malformed")
            return False
        return self._han_command(lambda app, gsme: han_commands.top_up_command(app, gsme, digits))

    def select_emergency_credit(self) -> bool:
        """The consumer asks for emergency credit: PCS02 to the home's GSME."""
        return self._han_command(han_commands.emergency_credit_command)

    @property
    def han_answers(self) -> list:
        """The GSME's answers to the HAN-only commands sent (L{han_commands.HanAnswer})."""
        app = self._gbcs_logic()
        return getattr(app, "han_answers", []) if app is not None else []

    def _gbcs_logic(self):
        app = self.tunnel.application if self.tunnel is not None else None
        app = getattr(app, "application", app)            # built on first use
        return app if hasattr(app, "crypto") and hasattr(app, "eui") else None

    def _han_command(self, build) -> bool:
        """HAN-only GBCS messages travel as GBCS does between devices: PUT up the PPMID's
        GB-HRGP tunnel, routed by the CHF to the GSME's queue (the sleepy GSME GETs it at its
        next wake), the GSME's response routed back down the PPMID's tunnel."""
        app = self._gbcs_logic()
        gsme = next((d.eui64 for d in self.home.spec.devices if d.kind == "GSME"), None)
        if app is None or gsme is None:
            self._count("han_command_no_gbcs")
            return False
        # the PPMID's own KA key, for the MAC with the GSME (none shipped in a reference store)
        provide_ka_key(app.crypto.keystore, app.eui, gsme, self.seed)
        self.tunnel.send(build(app, gsme))
        return True

    def describe(self) -> str:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(self.credit.items()))
        rate = f" at {self.unit_rate_p_per_kwh:.2f} p/kWh" if self.unit_rate_p_per_kwh is not None else ""
        return (f"prepayment reads {self.reads_answered}/{self.reads_sent} answered, prices {self.prices}{rate}"
                + (f"; shows {shown}" if shown else "")
                + (f"; {self.tunnel.describe()}" if self.tunnel is not None else ""))
