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

from emulator.devices.base import (CLUSTER_BASIC, CLUSTER_METERING, CLUSTER_PRICE, CLUSTER_TIME,
                                   DIRECTION_SERVER_TO_CLIENT, PROFILE_SE, ZCL_EPOCH, HanDevice, utc_now)
from emulator.devices.load import GasLoad, HouseholdLoad
from emulator.devices.tunnel import TUNNELING_CLUSTER_ID, TunnelClientHost
from emulator.rng import derive_rng
from protocols.zcl import foundation as zf
from protocols.zcl.frame import ZclFrame, encode_zcl
from protocols.zcl.server import default_response
from protocols.zigbee.zdo import ActiveEpReq, MatchDescReq, SimpleDescReq, SimpleDescriptor

METER_ENDPOINT = 0x01
DEVICE_ID_METER = 0x0501
ATTR_SUMMATION = 0x0000
ATTR_STATUS = 0x0200
ATTR_DEMAND = 0x0400
ATTR_DAY_CONSUMPTION = 0x0401


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
        self.time_offset = 0.0
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
            "SummationFormatting": 0x33, "DemandFormatting": 0x33, "MeteringDeviceType": 0,
            "InstantaneousDemand": 0, "CurrentDayConsumptionDelivered": 0})
        self.add_server(METER_ENDPOINT, CLUSTER_PRICE, {"Tier1PriceLabel": "Standard"})
        self.cluster_handlers[(METER_ENDPOINT, CLUSTER_PRICE)] = self._price_command
        self._day_start_wh: tuple[int, float] | None = None
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
        if values and 0x0000 in values:
            self.time_offset = values[0x0000] + ZCL_EPOCH - self.clock.seconds()

    def refresh(self, endpoint: int, cluster_id: int) -> None:
        if cluster_id != CLUSTER_METERING:
            return
        now = self.clock.seconds()
        energy_wh, power_w = self.load.read(now)
        day = int(now // 86400)
        if self._day_start_wh is None or self._day_start_wh[0] != day:
            self._day_start_wh = (day, energy_wh)
        values = self.servers[(endpoint, cluster_id)].values
        values[ATTR_SUMMATION] = int(energy_wh)  # Wh: Multiplier 1 / Divisor 1000 -> kWh
        values[ATTR_DEMAND] = int(power_w)
        values[ATTR_DAY_CONSUMPTION] = int(energy_wh - self._day_start_wh[1])
        self.reads_served += 1

    def _price_command(self, ind, frame: ZclFrame) -> None:
        if frame.direction != 0:
            self._count("zcl_unexpected_direction")
            return
        if frame.command_id == 0x00:  # GetCurrentPrice -> PublishPrice
            now = utc_now(self.clock)
            rsp = self.cluster_command(
                CLUSTER_PRICE, DIRECTION_SERVER_TO_CLIENT, "PublishPrice",
                ProviderID=0x00000001, RateLabel=b"Standard", IssuerEventID=now, CurrentTime=now,
                UnitofMeasure=0, Currency=826, PriceTrailingDigitAndPriceTier=0x51,
                NumberofPriceTiersAndRegisterTier=0x11, StartTime=now - now % 86400,
                DurationInMinutes=0xFFFF, Price=2450, PriceRatio=0xFF, GenerationPrice=0xFFFFFFFF,
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
        energy, power = self.load.read(self.clock.seconds())
        return (f"register {energy / 1000:.3f} kWh, demand {power:.0f} W, reads served {self.reads_served}, "
                f"prices published {self.prices_published}"
                + (f"; {self.tunnel.describe()}" if self.tunnel is not None else ""))


class Gsme(HanDevice):
    """Gas Smart Metering Equipment: a sleepy end device that mirrors its data on the GPF."""

    kind = "GSME"
    role = "end_device"
    rx_on_when_idle = False
    device_id = DEVICE_ID_METER
    model = "emulated GSME"
    AWAKE_POLL_INTERVAL = 0.5  # s between Data Requests while awake
    AWAKE_TIME = 4.0  # s awake after the last piece of work

    def __init__(self, home, spec, seed) -> None:
        super().__init__(home, spec, seed)
        self.gas = GasLoad(derive_rng(seed, home.spec.name, spec.name, "gas"), home.start_time,
                           float(spec.params.get("mean_gas_m3_per_day", 3.0)))
        self.wake_interval = float(spec.params.get("wake_interval", 1800))
        self.mirror_endpoint: int | None = None
        self.mirror_configured = False
        self.reports_sent = 0
        self.reports_acked = 0
        self.wakes = 0
        self._sleep_call = None
        self._busy = 0
        self.tunnel: TunnelClientHost | None = None  # built at power-on

    def endpoint_descriptors(self) -> list[SimpleDescriptor]:
        return [SimpleDescriptor(METER_ENDPOINT, PROFILE_SE, DEVICE_ID_METER, 0,
                                 (CLUSTER_BASIC, CLUSTER_METERING), (CLUSTER_TIME, TUNNELING_CLUSTER_ID))]

    def start(self) -> None:
        # GBCS from the CHF: asleep, it GETs what the CHF queued for it each time it wakes
        self.tunnel = TunnelClientHost(self, METER_ENDPOINT, keep_open=False, begin_work=self._begin_work,
                                       end_work=self._end_work)
        self.add_server(METER_ENDPOINT, CLUSTER_BASIC, self.basic_values(power_source=3))
        self.add_server(METER_ENDPOINT, CLUSTER_METERING, {
            "CurrentSummationDelivered": 0, "Status": 0, "UnitofMeasure": 1, "Multiplier": 1, "Divisor": 1000,
            "SummationFormatting": 0x7B, "MeteringDeviceType": 1})
        super().start()

    # ------------------------------------------------------------------ wake / sleep

    def joined(self) -> None:
        self._awake()
        self._begin_work()
        self.read_attributes(0x0000, 0x01, METER_ENDPOINT, CLUSTER_TIME, (0x0000, 0x0001),
                             lambda values: self._end_work())
        self._ensure_mirror()
        self.tunnel.poll()
        offset = self.rng.uniform(0, self.wake_interval)
        self.clock.callLater(offset, self._wake)

    def _awake(self) -> None:
        self.stack.start_polling(self.AWAKE_POLL_INTERVAL)

    def _begin_work(self) -> None:
        self._busy += 1
        if self._sleep_call is not None and self._sleep_call.active():
            self._sleep_call.cancel()
        self._sleep_call = None

    def _end_work(self) -> None:
        self._busy = max(0, self._busy - 1)
        if self._busy == 0:
            if self._sleep_call is not None and self._sleep_call.active():
                self._sleep_call.cancel()
            self._sleep_call = self.clock.callLater(self.AWAKE_TIME, self._sleep)

    def _sleep(self) -> None:
        self._sleep_call = None
        if self._busy == 0:
            self.stack.stop_polling()

    def _wake(self) -> None:
        self.wakes += 1
        self.clock.callLater(self.wake_interval, self._wake)
        if not self.stack.joined:
            return
        self._awake()
        self.tunnel.poll()
        if self.mirror_configured:
            self._report()
        else:
            self._ensure_mirror()

    # ------------------------------------------------------------------ mirroring

    def _ensure_mirror(self) -> None:
        if self.mirror_endpoint is None:
            self._begin_work()
            frame = self.cluster_command(CLUSTER_METERING, DIRECTION_SERVER_TO_CLIENT, "RequestMirror")
            self.request(0x0000, 0x01, METER_ENDPOINT, CLUSTER_METERING, frame, self._mirror_response)
        elif not self.mirror_configured:
            self._configure_mirror()

    def _mirror_response(self, ind, frame) -> None:
        self._end_work()
        if frame is None or frame.command_id != 0x01:
            self._count("mirror_request_failed")
            return
        from protocols.zcl.clusters import decode_command
        endpoint = decode_command(CLUSTER_METERING, 0, 0x01, frame.payload)["EndPointID"]
        if endpoint == 0xFFFF:
            self._count("mirror_refused")
            return
        self.mirror_endpoint = endpoint
        self._configure_mirror()

    def _configure_mirror(self) -> None:
        self._begin_work()
        frame = self.cluster_command(CLUSTER_METERING, DIRECTION_SERVER_TO_CLIENT, "ConfigureMirror",
                                     IssuerEventID=utc_now(self.clock) & 0xFFFFFFFF, ReportingInterval=int(self.wake_interval),
                                     MirrorNotificationReporting=False, NotificationScheme=0)
        self.request(0x0000, self.mirror_endpoint, METER_ENDPOINT, CLUSTER_METERING, frame, self._mirror_configured)

    def _mirror_configured(self, ind, frame) -> None:
        self._end_work()
        if frame is None or frame.command_id != 0x0B:
            self._count("mirror_configure_failed")
            return
        self.mirror_configured = True
        self._report()

    def _report(self) -> None:
        volume_m3 = self.gas.read(self.clock.seconds())
        values = self.servers[(METER_ENDPOINT, CLUSTER_METERING)].values
        values[ATTR_SUMMATION] = int(volume_m3 * 1000)  # dm3: Divisor 1000 -> m3
        reports = (zf.AttributeReport(ATTR_SUMMATION, 0x25, values[ATTR_SUMMATION]),
                   zf.AttributeReport(ATTR_STATUS, 0x18, values[ATTR_STATUS]))
        frame = zf.global_frame(zf.ReportAttributes(reports), self.next_tsn(), DIRECTION_SERVER_TO_CLIENT,
                                disable_default_response=True)
        self.reports_sent += 1
        self._begin_work()
        self.stack.send_data(0x0000, self.mirror_endpoint, METER_ENDPOINT, CLUSTER_METERING, encode_zcl(frame),
                             on_done=self._report_done)

    def _report_done(self, ok: bool) -> None:
        if ok:
            self.reports_acked += 1
        else:
            self._count("mirror_report_failed")
        self._end_work()

    def describe(self) -> str:
        return (f"wakes {self.wakes}, mirror endpoint {self.mirror_endpoint}, reports {self.reports_acked}/"
                f"{self.reports_sent} acknowledged"
                + (f"; {self.tunnel.describe()}" if self.tunnel is not None else ""))


class Ihd(HanDevice):
    """In-Home Display: reads the ESME every C{read_interval} s and the gas mirror on the GPF."""

    kind = "IHD"
    role = "router"
    rx_on_when_idle = True
    device_id = 0x0507  # In-Premises Display
    model = "emulated IHD"
    IHD_ENDPOINT = 0x01

    def __init__(self, home, spec, seed) -> None:
        super().__init__(home, spec, seed)
        self.read_interval = float(spec.params.get("read_interval", 10))
        self.gas_read_interval = float(spec.params.get("gas_read_interval", 60))
        self.electricity: tuple[int, int] | None = None  # (short, endpoint)
        self.gas: tuple[int, int] | None = None
        self.reads_sent = 0
        self.reads_answered = 0
        self.gas_reads_sent = 0
        self.gas_reads_answered = 0
        self.last_electricity: dict | None = None
        self.last_gas: dict | None = None
        self.prices = 0

    def endpoint_descriptors(self) -> list[SimpleDescriptor]:
        return [SimpleDescriptor(self.IHD_ENDPOINT, PROFILE_SE, self.device_id, 0, (CLUSTER_BASIC,),
                                 (CLUSTER_METERING, CLUSTER_PRICE, CLUSTER_TIME))]

    def start(self) -> None:
        self.add_server(self.IHD_ENDPOINT, CLUSTER_BASIC, self.basic_values(power_source=1))
        super().start()

    def joined(self) -> None:
        self.read_attributes(0x0000, 0x01, self.IHD_ENDPOINT, CLUSTER_TIME, (0x0000, 0x0001), lambda v: None)
        self._discover()
        self.clock.callLater(self.read_interval, self._read_electricity)
        self.clock.callLater(self.gas_read_interval, self._read_gas)
        self.clock.callLater(60.0, self._get_price)

    def _discover(self) -> None:
        """Match_Desc broadcast for Metering servers: the ESME and the GPF's mirror answer."""
        if self.electricity is not None and self.gas is not None:
            return
        self.stack.zdo_send(0xFFFD, MatchDescReq(0xFFFD, PROFILE_SE, (CLUSTER_METERING,), ()), self._matched,
                            timeout=5.0)
        self.clock.callLater(300.0, self._discover)

    def _matched(self, rsp) -> None:
        """A Metering server answered: ask for its simple descriptor to see what it is."""
        if rsp is None or rsp.status != 0:
            return
        for endpoint in rsp.endpoints:
            self.stack.zdo_send(rsp.nwk_addr, SimpleDescReq(rsp.nwk_addr, endpoint), self._described)

    def _described(self, rsp) -> None:
        """A meter endpoint (device id 0x0501) with Metering: the ESME itself, or the GPF's gas
        mirror on the CH (the only meter a CH holds is a mirror)."""
        d = rsp.descriptor if rsp is not None and rsp.status == 0 else None
        if d is None or d.device_id != DEVICE_ID_METER or CLUSTER_METERING not in d.in_clusters:
            return
        if rsp.nwk_addr == 0x0000:
            self.gas = (0x0000, d.endpoint)
        else:
            self.electricity = (rsp.nwk_addr, d.endpoint)

    def _read_electricity(self) -> None:
        self.clock.callLater(self.read_interval, self._read_electricity)
        if self.electricity is None:
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
        self.last_electricity = values
        self.metrics.zcl_requests.labels(self.kind, "answered").inc()

    def _read_gas(self) -> None:
        self.clock.callLater(self.gas_read_interval, self._read_gas)
        if self.gas is None:
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
        self.metrics.zcl_requests.labels(self.kind, "answered").inc()

    def _get_price(self) -> None:
        self.clock.callLater(1800.0, self._get_price)
        if self.electricity is None:
            return
        short, ep = self.electricity
        frame = self.cluster_command(CLUSTER_PRICE, 0, "GetCurrentPrice", CommandOptions=0)
        self.request(short, ep, self.IHD_ENDPOINT, CLUSTER_PRICE, frame, self._price)

    def _price(self, ind, frame) -> None:
        if frame is not None and frame.command_id == 0x00:
            self.prices += 1

    def describe(self) -> str:
        pct = 100.0 * self.reads_answered / self.reads_sent if self.reads_sent else 0.0
        return (f"electricity reads {self.reads_answered}/{self.reads_sent} answered ({pct:.1f}%), "
                f"gas reads {self.gas_reads_answered}/{self.gas_reads_sent}, prices {self.prices}")
