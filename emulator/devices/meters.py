"""The meters: ESME (electricity, mains powered router) and GSME (gas, sleepy end device).

ESME: serves Metering (registers advanced by the seeded household load model in
L{emulator.devices.load}) and Price (PublishPrice in answer to GetCurrentPrice) on
endpoint 1, and takes its time from the CH.

GSME: a battery device that sleeps with its receiver off.  It wakes every
C{wake_interval} seconds (30 min by default) at a seeded offset, polls its parent with
MAC Data Requests while awake, and keeps its data on the CH: the first time it asks the
GPF for a mirror (RequestMirror / ConfigureMirror, ZSE D.3.4.4), then on each wake it
pushes Report Attributes of its Metering registers to the mirror endpoint.
"""

from __future__ import annotations

from emulator.devices.base import (CLUSTER_BASIC, CLUSTER_METERING, CLUSTER_PRICE, CLUSTER_TIME, DEVICE_ID_METER,
                                   DIRECTION_SERVER_TO_CLIENT, PROFILE_SE, ZCL_EPOCH, HanDevice, utc_now)
from emulator.devices.discovery import make_discovery
from emulator.devices.gsme_control import AWAKE_POLL_INTERVAL, AWAKE_TIME, make_mirror_setup, make_wake_cycle
from emulator.devices.load import GasLoad, HouseholdLoad
from emulator.devices.prepayment import refresh_prepayment, serve_prepayment
from emulator.devices.registers import ElectricityRegisters, GasRegisters
from emulator.devices.tunnel import TUNNELING_CLUSTER_ID, TunnelClientHost
from emulator.rng import derive_rng
from protocols.zcl import foundation as zf
from protocols.zcl.frame import ZclFrame, encode_zcl
from protocols.zcl.server import default_response
from protocols.zigbee.zdo import ActiveEpReq, MatchDescReq, SimpleDescReq, SimpleDescriptor

METER_ENDPOINT = 0x01
ATTR_SUMMATION = 0x0000
ATTR_STATUS = 0x0200
ATTR_DEMAND = 0x0400
ATTR_DAY_CONSUMPTION = 0x0401
ATTR_UNIT_OF_MEASURE = 0x0300
ATTR_MULTIPLIER = 0x0301
ATTR_DIVISOR = 0x0302
ATTR_SUMMATION_FORMATTING = 0x0303
ATTR_DEMAND_FORMATTING = 0x0304
ATTR_METERING_DEVICE_TYPE = 0x0306
#: s a display waits for Match_Desc answers
MATCH_WINDOW = 3.0
#: trailing digits of the Price field (ZSE D.4.2.4.1.3): the price is in pounds with 5 decimals
PRICE_TRAILING_DIGITS = 5


class Esme(HanDevice):
    """Electricity Smart Metering Equipment."""

    kind = "ESME"
    role = "router"
    rx_on_when_idle = True
    device_id = DEVICE_ID_METER
    model = "emulated ESME"

    def __init__(self, home, spec, seed) -> None:
        super().__init__(home, spec, seed)
        self.load = HouseholdLoad(derive_rng(seed, home.spec.name, spec.name, "load"), home.start_time,
                                  float(spec.params.get("mean_power_w", 450)))
        #: the registers and logs the load model drives: the Metering cluster and the GBCS
        #: (COSEM) registers are both read from here
        self.registers = ElectricityRegisters(self.load, self.clock, home.start_time)
        self.time_offset = 0.0
        #: the tariff's unit rate, pence per kWh (default: a typical 2025/26 GB unit rate)
        self.unit_rate_p_per_kwh = float(spec.params.get("unit_rate_p_per_kwh", 24.5))
        self.reads_served = 0
        self.prices_published = 0
        self.tunnel: TunnelClientHost | None = None  # built at power-on

    def endpoint_descriptors(self) -> list[SimpleDescriptor]:
        return [SimpleDescriptor(METER_ENDPOINT, PROFILE_SE, DEVICE_ID_METER, 0,
                                 (CLUSTER_BASIC, CLUSTER_METERING, CLUSTER_PRICE),
                                 (CLUSTER_TIME, TUNNELING_CLUSTER_ID))]

    def start(self) -> None:
        # GBCS from the CHF: its receiver is on, so it keeps a tunnel open for the CHF to push into
        self.tunnel = TunnelClientHost(self, METER_ENDPOINT, keep_open=True)
        self.add_server(METER_ENDPOINT, CLUSTER_BASIC, self.basic_values(power_source=1))
        self.add_server(METER_ENDPOINT, CLUSTER_METERING, {
            "CurrentSummationDelivered": 0, "Status": 0, "UnitofMeasure": 0, "Multiplier": 1, "Divisor": 1000,
            "SummationFormatting": 0xB3, "DemandFormatting": 0xB3, "MeteringDeviceType": 0,
            "InstantaneousDemand": 0, "CurrentDayConsumptionDelivered": 0})
        self.add_server(METER_ENDPOINT, CLUSTER_PRICE, {"Tier1PriceLabel": "Standard"})
        self.cluster_handlers[(METER_ENDPOINT, CLUSTER_PRICE)] = self._price_command
        serve_prepayment(self, METER_ENDPOINT)  # Prepayment for a PPMID, in a home that has one
        super().start()

    def joined(self) -> None:
        # Find the CH's Time server (its endpoint is not assumed: Active_EP then Simple_Desc
        # of each endpoint, as a joining SE device does) and take the time from it.
        self.stack.zdo_send(0x0000, ActiveEpReq(0x0000), self._ch_endpoints)
        self.tunnel.start()

    def _ch_endpoints(self, rsp) -> None:
        if rsp is None or rsp.status != 0:
            self._count("zdo_discovery_failed")
            return
        for endpoint in rsp.endpoints:
            self.stack.zdo_send(0x0000, SimpleDescReq(0x0000, endpoint), self._ch_simple_descriptor)

    def _ch_simple_descriptor(self, rsp) -> None:
        if rsp is None or rsp.status != 0 or rsp.descriptor is None:
            return
        if CLUSTER_TIME in rsp.descriptor.in_clusters:
            self.read_attributes(0x0000, rsp.descriptor.endpoint, METER_ENDPOINT, CLUSTER_TIME, (0x0000, 0x0001),
                                 self._time_read)

    def _time_read(self, values) -> None:
        # (values are typed: the CH's Time attribute is a UTCTime, read from the CH under its link key)
        if values and isinstance(values.get(0x0000), int):
            self.time_offset = values[0x0000] + ZCL_EPOCH - self.clock.seconds()

    def refresh(self, endpoint: int, cluster_id: int) -> None:
        if cluster_id == 0x0705:  # Prepayment (a PPMID reads it)
            refresh_prepayment(self, endpoint)
        if cluster_id != CLUSTER_METERING:
            return
        regs = self.registers
        regs.advance()
        values = self.servers[(endpoint, cluster_id)].values
        values[ATTR_SUMMATION] = int(regs.import_wh)  # Wh: Multiplier 1 / Divisor 1000 -> kWh
        values[ATTR_DEMAND] = int(regs.power_w)
        values[ATTR_DAY_CONSUMPTION] = int(regs.day_consumption_wh)  # since midnight
        self.reads_served += 1

    def price_field(self) -> int:
        """PublishPrice Price: pounds per kWh with L{PRICE_TRAILING_DIGITS} decimals."""
        return round(self.unit_rate_p_per_kwh / 100.0 * 10 ** PRICE_TRAILING_DIGITS)

    def _price_command(self, ind, frame: ZclFrame) -> None:
        if frame.direction != 0:
            self._count("zcl_unexpected_direction")
            return
        if frame.command_id == 0x00:  # GetCurrentPrice -> PublishPrice
            now = utc_now(self.clock)
            rsp = self.cluster_command(
                CLUSTER_PRICE, DIRECTION_SERVER_TO_CLIENT, "PublishPrice",
                ProviderID=0x00000001, RateLabel=b"Standard", IssuerEventID=now, CurrentTime=now,
                UnitofMeasure=0, Currency=826,
                PriceTrailingDigitAndPriceTier=(PRICE_TRAILING_DIGITS << 4) | 0x01,
                NumberofPriceTiersAndRegisterTier=0x11, StartTime=now - now % 86400,
                DurationInMinutes=0xFFFF, Price=self.price_field(), PriceRatio=0xFF, GenerationPrice=0xFFFFFFFF,
                GenerationPriceRatio=0xFF, AlternateCostDelivered=0xFFFFFFFF, AlternateCostUnit=0xFF,
                AlternateCostTrailingDigit=0xFF, NumberofBlockThresholds=0xFF, PriceControl=0x00,
                NumberofGenerationTiers=0, GenerationTier=1, ExtendedNumberofPriceTiers=0,
                ExtendedPriceTier=0, ExtendedRegisterTier=0)
            rsp = ZclFrame(rsp.frame_type, rsp.command_id, frame.tsn, rsp.payload, rsp.direction, True, None)
            self.prices_published += 1
            self.reply(ind, rsp)
            return
        if not frame.disable_default_response:
            self.reply(ind, default_response(frame, zf.Status.UNSUP_CLUSTER_COMMAND))

    def describe(self) -> str:
        regs = self.registers
        regs.advance()
        return (f"register {regs.import_wh / 1000:.3f} kWh, demand {regs.power_w:.0f} W, reads served {self.reads_served}, "
                f"prices published {self.prices_published}"
                + (f"; {self.tunnel.describe()}" if self.tunnel is not None else ""))


class Gsme(HanDevice):
    """Gas Smart Metering Equipment: a sleepy end device that mirrors its data on the GPF
    (its radio by L{emulator.devices.gsme_control.WakeCycle}, its mirror by
    L{emulator.devices.gsme_control.MirrorSetup})."""

    kind = "GSME"
    role = "end_device"
    rx_on_when_idle = False
    device_id = DEVICE_ID_METER
    model = "emulated GSME"
    AWAKE_POLL_INTERVAL = AWAKE_POLL_INTERVAL
    AWAKE_TIME = AWAKE_TIME

    def __init__(self, home, spec, seed) -> None:
        super().__init__(home, spec, seed)
        self.gas = GasLoad(derive_rng(seed, home.spec.name, spec.name, "gas"), home.start_time,
                           float(spec.params.get("mean_gas_m3_per_day", 3.0)))
        #: the volume register the gas load drives: Metering reports and the GBCS (GBZ) view
        self.registers = GasRegisters(self.gas, self.clock, home.start_time)
        self.wake_interval = float(spec.params.get("wake_interval", 1800))
        self.mirror_endpoint: int | None = None
        self.mirror_configured = False
        self.reports_sent = 0
        self.reports_acked = 0
        self.wakes = 0
        self.wake_cycle = make_wake_cycle(self.clock, self)
        self.mirror = make_mirror_setup(self)
        self.tunnel: TunnelClientHost | None = None  # built at power-on
        from emulator.devices.gsme_clock import SYNC_INTERVAL, ClockSync
        self.clock_sync = ClockSync(self.clock, self, lambda code: home.device_alert(self, code),
                                    float(spec.params.get("clock_sync_interval", SYNC_INTERVAL)))

    def endpoint_descriptors(self) -> list[SimpleDescriptor]:
        return [SimpleDescriptor(METER_ENDPOINT, PROFILE_SE, DEVICE_ID_METER, 0,
                                 (CLUSTER_BASIC, CLUSTER_METERING), (CLUSTER_TIME, TUNNELING_CLUSTER_ID))]

    def start(self) -> None:
        # GBCS from the CHF: asleep, it GETs what the CHF queued for it each time it wakes
        self.tunnel = TunnelClientHost(self, METER_ENDPOINT, keep_open=False,
                                       begin_work=self.wake_cycle.begin_work, end_work=self.wake_cycle.end_work)
        self.add_server(METER_ENDPOINT, CLUSTER_BASIC, self.basic_values(power_source=3))
        self.add_server(METER_ENDPOINT, CLUSTER_METERING, {
            "CurrentSummationDelivered": 0, "Status": 0, "UnitofMeasure": 1, "Multiplier": 1, "Divisor": 1000,
            "SummationFormatting": 0xBB, "MeteringDeviceType": 1})
        super().start()

    # ------------------------------------------------------------------ wake / sleep (WakeLower)

    def start_polling(self, interval: float) -> None:
        self.stack.start_polling(interval)

    def stop_polling(self) -> None:
        self.stack.stop_polling()

    def cbke_busy(self, busy: bool) -> None:
        # key establishment needs the radio: poll the parent while it runs
        if busy:
            self.wake_cycle.begin_work()
        else:
            self.wake_cycle.end_work()

    def joined(self) -> None:
        self.wake_cycle.begin_work()
        self.clock_sync.started()
        self.read_attributes(0x0000, 0x01, METER_ENDPOINT, CLUSTER_TIME, (0x0000, 0x0001), self._clock_read)
        self.mirror.ensure()
        self.tunnel.poll()
        offset = self.rng.uniform(0, self.wake_interval)
        self.clock.callLater(offset, self._wake)

    def _wake(self) -> None:
        self.wakes += 1
        self.clock.callLater(self.wake_interval, self._wake)
        if not self.stack.joined:
            return
        self.tunnel.poll()
        self.mirror.ensure()
        if self.clock_sync.due():
            self.sync_clock()

    def sync_clock(self) -> None:
        """Synchronise the clock with the CH's Time cluster (L{emulator.devices.gsme_clock})."""
        self.clock_sync.started()
        self.wake_cycle.begin_work()
        self.read_attributes(0x0000, 0x01, METER_ENDPOINT, CLUSTER_TIME, (0x0000, 0x0001), self._clock_read)

    def _clock_read(self, values) -> None:
        self.clock_sync.time_read(values)
        self.wake_cycle.end_work()

    # ------------------------------------------------------------------ mirroring (MirrorLower)

    def request_mirror(self) -> None:
        self.wake_cycle.begin_work()
        frame = self.cluster_command(CLUSTER_METERING, DIRECTION_SERVER_TO_CLIENT, "RequestMirror")
        self.request(0x0000, 0x01, METER_ENDPOINT, CLUSTER_METERING, frame, self._mirror_response,
                     responses=(0x01,))  # RequestMirrorResponse

    def _mirror_response(self, ind, frame) -> None:
        self.wake_cycle.end_work()
        if frame is None or frame.command_id != 0x01:
            self._count("mirror_request_failed")
            self.mirror.failed()
            return
        from protocols.errors import CodecError
        from protocols.zcl.clusters import decode_command
        try:
            endpoint = decode_command(CLUSTER_METERING, 0, 0x01, frame.payload)["EndPointID"]
        except CodecError:
            self._count("zcl_malformed")
            self.mirror.failed()
            return
        if endpoint == 0xFFFF:
            self._count("mirror_refused")
            self.mirror.failed()
            return
        self.mirror_endpoint = endpoint
        self.mirror.granted(endpoint)

    def configure_mirror(self, endpoint: int) -> None:
        self.wake_cycle.begin_work()
        frame = self.cluster_command(CLUSTER_METERING, DIRECTION_SERVER_TO_CLIENT, "ConfigureMirror",
                                     IssuerEventID=utc_now(self.clock) & 0xFFFFFFFF,
                                     ReportingInterval=int(self.wake_interval),
                                     MirrorNotificationReporting=False, NotificationScheme=0)
        self.request(0x0000, endpoint, METER_ENDPOINT, CLUSTER_METERING, frame, self._mirror_configured,
                     responses=())  # a Default Response

    def _mirror_configured(self, ind, frame) -> None:
        self.wake_cycle.end_work()
        if frame is None or frame.command_id != 0x0B:
            self._count("mirror_configure_failed")
            self.mirror.failed()
            return
        self.mirror_configured = True
        self.mirror.configured()

    def report(self, endpoint: int) -> None:
        self.registers.advance()
        values = self.servers[(METER_ENDPOINT, CLUSTER_METERING)].values
        values[ATTR_SUMMATION] = self.registers.summation  # dm3: Divisor 1000 -> m3
        reports = (zf.AttributeReport(ATTR_SUMMATION, 0x25, values[ATTR_SUMMATION]),
                   zf.AttributeReport(ATTR_STATUS, 0x18, values[ATTR_STATUS]))
        frame = zf.global_frame(zf.ReportAttributes(reports), self.next_tsn(), DIRECTION_SERVER_TO_CLIENT,
                                disable_default_response=True)
        self.reports_sent += 1
        self.wake_cycle.begin_work()
        self.stack.send_data(0x0000, endpoint, METER_ENDPOINT, CLUSTER_METERING, encode_zcl(frame),
                             on_done=self._report_done)

    def _report_done(self, ok: bool) -> None:
        if ok:
            self.reports_acked += 1
        else:
            self._count("mirror_report_failed")
        self.wake_cycle.end_work()

    def describe(self) -> str:
        return (f"wakes {self.wakes}, mirror endpoint {self.mirror_endpoint}, reports {self.reports_acked}/"
                f"{self.reports_sent} acknowledged"
                + (f"; {self.tunnel.describe()}" if self.tunnel is not None else ""))


#: the Metering formatting attributes a display reads once per meter (ZSE D.3.2.2.4)
FORMATTING_ATTRIBUTES = (ATTR_UNIT_OF_MEASURE, ATTR_MULTIPLIER, ATTR_DIVISOR, ATTR_SUMMATION_FORMATTING,
                         ATTR_DEMAND_FORMATTING, ATTR_METERING_DEVICE_TYPE)
#: UnitofMeasure (ZSE D.3.2.2.4.1, binary values) -> (summation unit, demand unit)
_UNITS = {0: ("kWh", "kW"), 1: ("m3", "m3/h"), 2: ("ft3", "ft3/h"), 3: ("ccf", "ccf/h"), 4: ("US gl", "US gl/h"),
          5: ("IMP gl", "IMP gl/h"), 6: ("BTU", "BTU/h"), 7: ("l", "l/h"), 8: ("kPa", "kPa")}


class MeterFormatting:
    """How a meter says its registers are to be shown (UnitofMeasure, Multiplier, Divisor,
    Summation / DemandFormatting: bits 0-2 digits right of the decimal point, bits 3-6 digits
    left of it, bit 7 suppress leading zeros)."""

    __slots__ = ("unit", "multiplier", "divisor", "summation_formatting", "demand_formatting", "device_type")

    def __init__(self, values: dict[int, object]) -> None:
        def number(attr: int, default: int) -> int:
            v = values.get(attr)
            return v if isinstance(v, int) and not isinstance(v, bool) else default
        self.unit = number(ATTR_UNIT_OF_MEASURE, 0) & 0x7F
        self.multiplier = number(ATTR_MULTIPLIER, 1) or 1
        self.divisor = number(ATTR_DIVISOR, 1) or 1
        self.summation_formatting = number(ATTR_SUMMATION_FORMATTING, 0x33)
        self.demand_formatting = number(ATTR_DEMAND_FORMATTING, self.summation_formatting)
        self.device_type = number(ATTR_METERING_DEVICE_TYPE, 0)

    def value(self, raw: int) -> float:
        return raw * self.multiplier / self.divisor

    @staticmethod
    def _format(value: float, formatting: int) -> str:
        right = formatting & 0x07
        left = (formatting >> 3) & 0x0F
        text = f"{value:.{right}f}"
        if not formatting & 0x80 and left:
            whole, dot, frac = text.partition(".")
            sign = "-" if whole.startswith("-") else ""
            text = sign + whole.lstrip("-").rjust(left, "0") + dot + frac
        return text

    def summation(self, raw: int) -> str:
        return f"{self._format(self.value(raw), self.summation_formatting)} {_UNITS.get(self.unit, ('?', '?'))[0]}"

    def demand(self, raw: int) -> str:
        return f"{self._format(self.value(raw), self.demand_formatting)} {_UNITS.get(self.unit, ('?', '?'))[1]}"


class MeterSearch:
    """For a display on the HAN (IHD, PPMID): the ZDO side of finding the home's meters, the
    L{emulator.devices.discovery.DiscoveryLower} its C{self.discovery} machine drives.  A
    Match_Desc broadcast for Metering servers (the ESME and the GPF's mirror on the CH answer),
    then a Simple_Desc of each endpoint that answered; C{meter_found(short, endpoint)} for each
    meter endpoint (device id 0x0501 with Metering).  A device with C{mirror_wanted} false does
    not ask about the CH's (short address 0x0000) endpoints: the gas mirror is no meter of its."""

    mirror_wanted = True

    def send_match_desc(self) -> None:
        self.stack.zdo_send(0xFFFD, MatchDescReq(0xFFFD, PROFILE_SE, (CLUSTER_METERING,), ()), self._matched,
                            timeout=MATCH_WINDOW)

    def _matched(self, rsp) -> None:
        """A Metering server answered (or the window closed): ask what it is."""
        if rsp is None:
            self.discovery.window_closed()
            return
        if rsp.status != 0 or (rsp.nwk_addr == 0x0000 and not self.mirror_wanted):
            return
        for endpoint in rsp.endpoints:
            self.stack.zdo_send(rsp.nwk_addr, SimpleDescReq(rsp.nwk_addr, endpoint), self._described)

    def _described(self, rsp) -> None:
        d = rsp.descriptor if rsp is not None and rsp.status == 0 else None
        if d is None or d.device_id != DEVICE_ID_METER or CLUSTER_METERING not in d.in_clusters:
            return
        self.meter_found(rsp.nwk_addr, d.endpoint)

    def meter_found(self, short: int, endpoint: int) -> None:
        raise NotImplementedError


class PriceReader:
    """For a display on the HAN (IHD, PPMID): every 30 minutes it asks the ESME it found
    (C{self.electricity}) for the current price (GetCurrentPrice -> PublishPrice, on its endpoint
    C{price_endpoint}) and keeps the unit rate in p/kWh (C{unit_rate_p_per_kwh}, C{prices})."""

    price_endpoint: int

    def _get_price(self) -> None:
        self.clock.callLater(1800.0, self._get_price)
        if self.electricity is None:
            return
        short, ep = self.electricity
        frame = self.cluster_command(CLUSTER_PRICE, 0, "GetCurrentPrice", CommandOptions=0)
        self.request(short, ep, self.price_endpoint, CLUSTER_PRICE, frame, self._price,
                     responses=(0x00,))  # PublishPrice

    def _price(self, ind, frame) -> None:
        if frame is None or frame.command_id != 0x00 or frame.direction != DIRECTION_SERVER_TO_CLIENT:
            return
        from protocols.errors import CodecError
        from protocols.zcl.clusters import decode_command
        try:
            fields = decode_command(CLUSTER_PRICE, DIRECTION_SERVER_TO_CLIENT, 0x00, frame.payload)
        except CodecError:
            self._count("zcl_malformed")
            return
        self.prices += 1
        self.unit_rate_p_per_kwh = price_p_per_kwh(fields["Price"], fields["PriceTrailingDigitAndPriceTier"])


class Ihd(MeterSearch, PriceReader, HanDevice):
    """In-Home Display: finds the meters (Match_Desc with a growing backoff), reads each one's
    formatting attributes once, then reads the ESME every C{read_interval} s and the gas mirror
    on the GPF every C{gas_read_interval} s, and shows the values as the meter formats them."""

    kind = "IHD"
    role = "router"
    rx_on_when_idle = True
    device_id = 0x0507  # In-Premises Display
    model = "emulated IHD"
    IHD_ENDPOINT = 0x01
    price_endpoint = IHD_ENDPOINT

    def __init__(self, home, spec, seed) -> None:
        super().__init__(home, spec, seed)
        self.read_interval = float(spec.params.get("read_interval", 10))
        self.gas_read_interval = float(spec.params.get("gas_read_interval", 60))
        self.electricity: tuple[int, int] | None = None  # (short, endpoint)
        self.gas: tuple[int, int] | None = None
        self.formatting: dict[str, MeterFormatting] = {}  # "electricity" / "gas" -> formatting
        self.reads_sent = 0
        self.reads_answered = 0
        self.gas_reads_sent = 0
        self.gas_reads_answered = 0
        self.first_electricity_answer: float | None = None
        self.last_electricity: dict | None = None
        self.last_gas: dict | None = None
        self.display: dict[str, str] = {}
        self.prices = 0
        self.unit_rate_p_per_kwh: float | None = None
        self.discovery = make_discovery(self.clock, derive_rng(seed, home.spec.name, spec.name, "discovery"), self)
        self._electricity_call = None
        self._gas_call = None

    def endpoint_descriptors(self) -> list[SimpleDescriptor]:
        return [SimpleDescriptor(self.IHD_ENDPOINT, PROFILE_SE, self.device_id, 0, (CLUSTER_BASIC,),
                                 (CLUSTER_METERING, CLUSTER_PRICE, CLUSTER_TIME))]

    def start(self) -> None:
        self.add_server(self.IHD_ENDPOINT, CLUSTER_BASIC, self.basic_values(power_source=1))
        super().start()

    def joined(self) -> None:
        self.read_attributes(0x0000, 0x01, self.IHD_ENDPOINT, CLUSTER_TIME, (0x0000, 0x0001), lambda v: None)
        self.discovery.start()
        self.clock.callLater(60.0, self._get_price)

    # ------------------------------------------------------------------ discovery (MeterSearch)

    def meter_found(self, short: int, endpoint: int) -> None:
        """The ESME itself, or the GPF's gas mirror on the CH (the only meter a CH holds is a
        mirror): read each once found; discovery is complete with both."""
        if short == 0x0000:
            if self.gas is None:
                self.gas = (0x0000, endpoint)
                self._read_gas()
        elif self.electricity is None:
            self.electricity = (short, endpoint)
            self._read_electricity()
        if self.electricity is not None and self.gas is not None:
            self.discovery.complete()

    # ------------------------------------------------------------------ reading

    def _formatting_known(self, which: str):
        """After the formatting read: the first register read goes out at once."""
        def then() -> None:
            if which in self.formatting:
                (self._read_electricity if which == "electricity" else self._read_gas)()
        return then

    def _read_formatting(self, which: str, target: tuple[int, int], then) -> None:
        short, ep = target

        def done(values) -> None:
            if values is not None and ATTR_DIVISOR in values:
                self.formatting[which] = MeterFormatting(values)
            then()

        self.read_attributes(short, ep, self.IHD_ENDPOINT, CLUSTER_METERING, FORMATTING_ATTRIBUTES, done,
                             timeout=min(self.read_interval * 0.9, 8.0))

    def _read_electricity(self) -> None:
        if self._electricity_call is not None and self._electricity_call.active():
            self._electricity_call.cancel()
        self._electricity_call = self.clock.callLater(self.read_interval, self._read_electricity)
        if self.electricity is None:
            return
        if "electricity" not in self.formatting:
            self._read_formatting("electricity", self.electricity, self._formatting_known("electricity"))
            return
        self.reads_sent += 1
        short, ep = self.electricity
        self.read_attributes(short, ep, self.IHD_ENDPOINT, CLUSTER_METERING,
                             (ATTR_SUMMATION, ATTR_DEMAND, ATTR_DAY_CONSUMPTION), self._electricity_read,
                             timeout=self.read_interval * 0.9)

    def _electricity_read(self, values) -> None:
        if values is None:
            self.metrics.zcl_requests.labels(self.kind, "timeout").inc()
            return
        self.reads_answered += 1
        if self.first_electricity_answer is None:
            self.first_electricity_answer = self.clock.seconds()
        self.last_electricity = values
        fmt = self.formatting["electricity"]
        if isinstance(values.get(ATTR_SUMMATION), int):
            self.display["electricity"] = fmt.summation(values[ATTR_SUMMATION])
        if isinstance(values.get(ATTR_DEMAND), int):
            self.display["demand"] = fmt.demand(values[ATTR_DEMAND])
        self.metrics.zcl_requests.labels(self.kind, "answered").inc()

    def _read_gas(self) -> None:
        if self._gas_call is not None and self._gas_call.active():
            self._gas_call.cancel()
        self._gas_call = self.clock.callLater(self.gas_read_interval, self._read_gas)
        if self.gas is None:
            return
        if "gas" not in self.formatting:
            self._read_formatting("gas", self.gas, self._formatting_known("gas"))
            return
        self.gas_reads_sent += 1
        short, ep = self.gas
        self.read_attributes(short, ep, self.IHD_ENDPOINT, CLUSTER_METERING, (ATTR_SUMMATION, ATTR_STATUS),
                             self._gas_read, timeout=min(self.gas_read_interval * 0.9, 10.0))

    def _gas_read(self, values) -> None:
        if values is None:
            self.metrics.zcl_requests.labels(self.kind, "timeout").inc()
            return
        self.gas_reads_answered += 1
        self.last_gas = values
        if isinstance(values.get(ATTR_SUMMATION), int):
            self.display["gas"] = self.formatting["gas"].summation(values[ATTR_SUMMATION])
        self.metrics.zcl_requests.labels(self.kind, "answered").inc()

    def describe(self) -> str:
        pct = 100.0 * self.reads_answered / self.reads_sent if self.reads_sent else 0.0
        shown = ", ".join(f"{k} {v}" for k, v in sorted(self.display.items()))
        rate = f" at {self.unit_rate_p_per_kwh:.2f} p/kWh" if self.unit_rate_p_per_kwh is not None else ""
        return (f"electricity reads {self.reads_answered}/{self.reads_sent} answered ({pct:.1f}%), "
                f"gas reads {self.gas_reads_answered}/{self.gas_reads_sent}, prices {self.prices}{rate}"
                + (f"; shows {shown}" if shown else ""))


def price_p_per_kwh(price: int, trailing_digit_and_tier: int) -> float:
    """ZSE D.4.2.4.1.3: Price is in the currency's base unit (GBP: pounds, ISO 4217 826) per
    unit of measure, with the decimal point C{trailing digit} (high nibble) places from the
    right; returned in pence."""
    return price * 100 / 10 ** (trailing_digit_and_tier >> 4)
