"""The Communications Hub: CHF (coordinator, trust centre, time source) and GPF (gas mirror).

CHF (GBCS "Communications Hub Function"): forms the HAN, keeps the device log (the
whitelist of EUI-64 + install code the joining rules check, spec 3.5), hands out the
network key and application link keys, and serves the Time cluster as the HAN's time
master (TimeStatus 0x09: Master | Superseding) and Basic.  The device log is one
L{ChfDeviceLog}, shared with the CHF's GBCS logic (CCS01-CCS03 change it); a TC link key
that key establishment makes is recorded in it, and the CHF reports the change (CS14).

GPF (GBCS "Gas Proxy Function"): answers the GSME's RequestMirror with a mirror endpoint
on the hub, accepts ConfigureMirror, and holds the Metering attributes the GSME reports,
so that an IHD can read gas consumption at any time although the meter sleeps.
"""

from __future__ import annotations

from emulator.devices.base import (CHF_ENDPOINT, CLUSTER_BASIC, CLUSTER_METERING, CLUSTER_PRICE, CLUSTER_TIME,
                                   DEVICE_ID_METER, DIRECTION_CLIENT_TO_SERVER, PROFILE_SE, HanDevice, log, terminate_status_name,
                                   utc_now)
from emulator.devices.cbke import CLUSTER_KEY_ESTABLISHMENT, KeyEstablishmentLink
from emulator.devices.gbcs.asn1_usecases import DEVICE_TYPE_CODES
from emulator.devices.gbcs.chf_device_log import ChfDeviceLog
from emulator.rng import derive_bytes
from protocols.ieee802154.beacon import ZigbeeBeaconPayload, encode_zigbee_beacon_payload
from protocols.zcl import foundation as zf
from protocols.zcl.frame import encode_zcl
from protocols.zcl.se.tunneling import TUNNELING_CLUSTER_ID
from protocols.zcl.server import default_response
from protocols.zigbee.keys import append_install_code_crc, install_code_to_link_key
from protocols.zigbee.zdo import SimpleDescriptor

FIRST_MIRROR_ENDPOINT = 0x02
DEVICE_ID_ESP = 0x0500  # Energy Service Interface
TIME_STATUS_MASTER_SUPERSEDING = 0x09


class CommsHub(HanDevice):
    """CH = CHF + GPF on one radio (the PAN coordinator)."""

    kind = "CH"
    role = "coordinator"
    rx_on_when_idle = True
    device_id = DEVICE_ID_ESP
    model = "emulated Communications Hub"

    def __init__(self, home, spec, seed) -> None:
        super().__init__(home, spec, seed)
        # the CHF device log: the devices registered (with their install code, 16 bytes, no CRC)
        # when the hub was installed; the CHF's GBCS logic works on the same log
        self.device_log = ChfDeviceLog()
        self.kinds: dict[int, str] = {}
        for dev in home.spec.devices:
            self.kinds[dev.eui64] = dev.kind
            if dev is not spec and dev.registered_install_code is not None:
                self.device_log.register(dev.eui64.to_bytes(8, "big"), DEVICE_TYPE_CODES.get(dev.kind, 6),
                                         dev.registered_install_code)
        self.chf_tunnel = None  # the GB-HRGP Tunneling server + CHF routing, built at power-on
        self.mirrors: dict[int, int] = {}  # GSME EUI-64 -> mirror endpoint
        self.joins: dict[str, int] = {}
        self.mirror_reports = 0
        self.names = {dev.eui64: dev.name for dev in home.spec.devices}
        #: CBKE responder per device (EUI-64 -> the run in progress or the last one)
        self.key_establishments: dict[int, KeyEstablishmentLink] = {}
        #: the TC link key each device's last successful CBKE run made
        self.cbke_keys: dict[int, bytes] = {}
        self._no_cbke = {dev.eui64 for dev in home.spec.devices if dev.params.get("cbke", True) is False}
        #: what a power cut kept (L{emulator.devices.reboot.HubNvm}) until the hub is powered on again
        self.nvm = None

    def endpoint_descriptors(self) -> list[SimpleDescriptor]:
        eps = [SimpleDescriptor(CHF_ENDPOINT, PROFILE_SE, DEVICE_ID_ESP, 0,
                                (CLUSTER_BASIC, CLUSTER_TIME, CLUSTER_PRICE, TUNNELING_CLUSTER_ID),
                                (CLUSTER_METERING,))]
        for ep in sorted(self.mirrors.values()):
            eps.append(self._mirror_descriptor(ep))
        return eps

    @staticmethod
    def _mirror_descriptor(endpoint: int) -> SimpleDescriptor:
        return SimpleDescriptor(endpoint, PROFILE_SE, DEVICE_ID_METER, 0, (CLUSTER_BASIC, CLUSTER_METERING), ())

    def start(self) -> None:
        if self.nvm is not None:        # powered on again after a power cut (emulator.devices.reboot)
            from emulator.devices.reboot import resume
            resume(self)
            return
        home = self.home
        home.add_key(home.spec.network_key, "network key #0")
        for dev in home.spec.devices:
            if dev.registered_install_code is not None:
                key = install_code_to_link_key(append_install_code_crc(dev.registered_install_code))
                home.add_key(key, f"{dev.name} install-code link key")
        self.add_server(CHF_ENDPOINT, CLUSTER_BASIC, self.basic_values(power_source=1))
        self.add_server(CHF_ENDPOINT, CLUSTER_TIME, {"Time": 0, "TimeStatus": TIME_STATUS_MASTER_SUPERSEDING,
                                                     "TimeZone": 0, "DstShift": 0})
        self.add_server(CHF_ENDPOINT, CLUSTER_PRICE, {"CommodityType": 1}, client_side=True)
        self.cluster_handlers[(CHF_ENDPOINT, CLUSTER_METERING)] = self._metering_client_command
        self._start_gbcs()
        self.form_network(home.spec.pan_id, home.spec.network_key, 0)
        self.joined_at = self.clock.seconds()
        self.metrics.devices_up.labels(self.kind).inc()
        for at in self.spec.params.get("network_key_updates", ()):
            self.clock.callLater(float(at), self._update_network_key)
        self.network_key_updates = 0

    @property
    def extended_pan_id(self) -> int:
        """The HAN's extended PAN id: the anchor CH uses its own EUI-64."""
        return self.spec.eui64

    def form_network(self, pan_id: int, network_key: bytes, key_seq: int) -> None:
        """Start the PAN as its coordinator and trust centre (at first power-on, and again with
        the same PAN after a power cut)."""
        beacon = encode_zigbee_beacon_payload(ZigbeeBeaconPayload(extended_pan_id=self.extended_pan_id))
        self.stack.form_network(pan_id, network_key, authorize=self._authorize, key_seq=key_seq,
                                on_device_joined=self._device_joined, beacon_payload=beacon,
                                link_key_established=self.link_key_established)

    def _update_network_key(self) -> None:
        """A scheduled topology event: a new network key (derived from the seed) for the HAN."""
        self.network_key_updates += 1
        key = derive_bytes(self.seed, self.home.spec.name, "network_key", str(self.network_key_updates), n=16)
        seq = self.stack.update_network_key(key)
        log.info("{home}/{name}: network key update to key sequence number {seq}", home=self.home.spec.name,
                 name=self.spec.name, seq=seq)

    # -------------------------------------------------------------------- GBCS over the tunnel

    def _start_gbcs(self) -> None:
        """Serve GB-HRGP tunnels and route GBCS (L{emulator.devices.tunnel}); schedule the
        topology's C{gbcs_commands} as messages arriving from the WAN."""
        self._build_chf_tunnel()
        elapsed = self.clock.seconds() - self.home.start_time
        for scheduled in self.home.spec.gbcs_commands:
            self.clock.callLater(max(0.0, scheduled.at - elapsed), self.chf_tunnel.from_wan, scheduled.message)

    def _build_chf_tunnel(self) -> None:
        """The CHF's tunnel service and router, with every device of the device log."""
        from emulator.devices.tunnel import ChfTunnelService
        params = self.spec.params
        crypto = None
        if "gbcs_keys" in params:
            from protocols.gbcs.crypto import GbcsCrypto
            from protocols.gbcs.keystore import KeyStore
            crypto = GbcsCrypto(KeyStore(params["gbcs_keys"]))
        timeout = params.get("close_tunnel_timeout", 0xFFFF)
        self.chf_tunnel = ChfTunnelService(self, CHF_ENDPOINT, crypto=crypto, close_tunnel_timeout=timeout,
                                           queue_limit=params.get("tunnel_queue_limit", 32),
                                           queue_expiry=params.get("tunnel_queue_expiry", 86400.0))
        self.add_server(CHF_ENDPOINT, TUNNELING_CLUSTER_ID, {"CloseTunnelTimeout": min(int(timeout), 0xFFFF)})
        from emulator.devices import DEVICE_CLASSES
        for eui in (int.from_bytes(e, "big") for e in self.device_log):
            kind = self.kinds.get(eui, "")
            cls = DEVICE_CLASSES.get(kind)
            self.chf_tunnel.add_device(eui, kind, sleepy=cls is not None and not cls.rx_on_when_idle)

    def _authorize(self, eui: int) -> bytes | None:
        entry = self.device_log.get(eui.to_bytes(8, "big"))
        if entry is None or len(entry[1]) != 16:      # not in the log, or no install code (restored)
            return None
        return install_code_to_link_key(append_install_code_crc(entry[1]))

    def _device_joined(self, eui: int, short: int, outcome: str) -> None:
        self.joins[outcome] = self.joins.get(outcome, 0) + 1

    def refresh(self, endpoint: int, cluster_id: int) -> None:
        if cluster_id == CLUSTER_TIME:
            self.servers[(endpoint, cluster_id)].values[0x0000] = utc_now(self.clock)

    # -------------------------------------------------------------------- CBKE (responder)

    def key_establishment_frame(self, ind, frame) -> None:
        """Key Establishment (0x0800) from a device: the CH is the responder, for devices in
        its device log only; an InitiateKeyEstablishmentRequest starts a new run."""
        eui = ind.src_eui if ind.src_eui is not None else self.stack.eui_of(ind.src_short)
        if eui is None or eui.to_bytes(8, "big") not in self.device_log:
            self._count("cbke_not_in_device_log")
            return
        link = self.key_establishments.get(eui)
        if frame.command_id == 0x00 and frame.direction == DIRECTION_CLIENT_TO_SERVER:
            link = self._new_key_establishment(eui, ind.src_short, ind.src_endpoint)
        elif link is None or link.machine.result is not None:
            self._count("cbke_no_session")
            return
        link.receive_frame(frame)

    def link_key_established(self, eui: int) -> bool:
        """The trust centre's question: is C{eui}'s TC link key the one CBKE made (or does
        the device not run CBKE)?  A device that associated again is back on its install code."""
        if eui in self._no_cbke:
            return True
        key = self.cbke_keys.get(eui)
        return key is not None and self.stack.link_keys.get(eui) == key

    def _new_key_establishment(self, eui: int, short: int, endpoint: int) -> KeyEstablishmentLink:
        def send(frame) -> None:
            self.stack.send_data(short, endpoint, CHF_ENDPOINT, CLUSTER_KEY_ESTABLISHMENT, encode_zcl(frame),
                                 aps_security=False)

        link = None

        def done(result) -> None:
            if self.key_establishments.get(eui) is not link:
                return  # a newer run replaced this one
            self._key_established(eui, result)

        link = self.key_establishments[eui] = KeyEstablishmentLink(
            initiator=False, clock=self.clock, rng=self._cbke_rng, credentials=self.cbke_credentials,
            partner_eui64=eui, send_zcl=send, next_tsn=self.next_tsn, on_done=done)
        self._cbke_count("started")
        return link

    def _key_established(self, eui: int, result) -> None:
        name = self.names.get(eui, f"{eui:016X}")
        if result.established:
            # the trust centre keeps the CBKE key as this device's TC link key from now on
            self.stack.install_link_key(eui, result.link_key)
            self.cbke_keys[eui] = result.link_key
            self.home.add_key(result.link_key, f"{name} CBKE link key")
            self._cbke_count("established")
            self._tc_link_key_established(eui, result.link_key)
            return
        outcome = terminate_status_name(result.status) if result.status is not None else result.outcome.value
        self._cbke_count(outcome)
        log.info("{home}/{name}: key establishment with {device} failed ({outcome}: {reason})",
                 home=self.home.spec.name, name=self.spec.name, device=name, outcome=outcome, reason=result.reason)

    def _tc_link_key_established(self, eui: int, link_key: bytes) -> None:
        """Record the device's new TC link key (its hash) in the CHF device log: through the
        CHF's GBCS logic, which sends the CS14 back-up when the log changed (built now if no
        message reached it yet); a hub with no GBCS logic only records it."""
        app = self.chf_tunnel.application if self.chf_tunnel is not None else None
        chf = getattr(app, "chf", None)
        if chf is not None and hasattr(chf, "tc_link_key_established"):
            chf.tc_link_key_established(eui.to_bytes(8, "big"), link_key)
        else:
            self.device_log.tc_link_key_established(eui.to_bytes(8, "big"), link_key)

    # -------------------------------------------------------------------- GPF mirroring

    def _metering_client_command(self, ind, frame) -> None:
        """Metering commands a meter (server) sends to us as client: RequestMirror, ConfigureMirror."""
        if frame.direction != 1:
            self._count("zcl_unexpected_direction")
            return
        if frame.command_id == 0x01:  # RequestMirror
            endpoint = self._mirror_for(ind.src_eui)
            rsp = self.cluster_command(CLUSTER_METERING, DIRECTION_CLIENT_TO_SERVER, "RequestMirrorResponse",
                                       EndPointID=endpoint if endpoint is not None else 0xFFFF)
            rsp = type(rsp)(rsp.frame_type, rsp.command_id, frame.tsn, rsp.payload, rsp.direction, True, None)
            self.reply(ind, rsp)
            return
        if frame.command_id == 0x02:  # RemoveMirror
            endpoint = self.mirrors.pop(ind.src_eui, None) if ind.src_eui is not None else None
            rsp = self.cluster_command(CLUSTER_METERING, DIRECTION_CLIENT_TO_SERVER, "MirrorRemoved",
                                       EndPointID=endpoint if endpoint is not None else 0xFFFF)
            self.reply(ind, type(rsp)(rsp.frame_type, rsp.command_id, frame.tsn, rsp.payload, rsp.direction, True,
                                      None))
            return
        if not frame.disable_default_response:
            self.reply(ind, default_response(frame, zf.Status.UNSUP_CLUSTER_COMMAND))

    def _mirror_for(self, eui: int | None) -> int | None:
        if eui is None or self.kinds.get(eui) != "GSME":
            return None
        endpoint = self.mirrors.get(eui)
        if endpoint is None:
            endpoint = FIRST_MIRROR_ENDPOINT + len(self.mirrors)
            self.mirrors[eui] = endpoint
            self.add_server(endpoint, CLUSTER_BASIC, self.basic_values(power_source=3))
            server = self.add_server(endpoint, CLUSTER_METERING, {
                "CurrentSummationDelivered": 0, "Status": 0, "UnitofMeasure": 1, "Multiplier": 1,
                "Divisor": 1000, "SummationFormatting": 0xBB, "MeteringDeviceType": 128 + 1,
            }, accept_reports=True)
            self.cluster_handlers[(endpoint, CLUSTER_METERING)] = self._mirror_command
            self.stack.add_endpoint(self._mirror_descriptor(endpoint), self._aps_data)
            self._mirror_server = server
        return endpoint

    def _mirror_command(self, ind, frame) -> None:
        if frame.command_id == 0x08 and frame.direction == 1:  # ConfigureMirror
            if not frame.disable_default_response:
                self.reply(ind, default_response(frame, zf.Status.SUCCESS))
            return
        if not frame.disable_default_response:
            self.reply(ind, default_response(frame, zf.Status.UNSUP_CLUSTER_COMMAND))

    def _zcl_received(self, ind, frame) -> None:
        owner = self.mirror_owners.get(ind.dst_endpoint)
        if owner is not None and ind.cluster == CLUSTER_METERING:
            report = frame.frame_type == 0 and frame.command_id == 0x0A
            if (report or frame.frame_type == 1) and ind.src_eui != owner:
                # a mirror's data and configuration come from its meter alone (authenticated
                # by the meter's link key); anyone else may only read it
                self._count("mirror_not_owner")
                return
            if report:
                self.mirror_reports += 1
        super()._zcl_received(ind, frame)

    @property
    def mirror_owners(self) -> dict[int, int]:
        """Mirror endpoint -> the EUI-64 of the GSME it mirrors."""
        return {endpoint: eui for eui, endpoint in self.mirrors.items()}

    def describe(self) -> str:
        return (f"device log {len(self.device_log)} entries, joins {dict(sorted(self.joins.items()))}, "
                f"mirrors {len(self.mirrors)}, mirror reports {self.mirror_reports}"
                + (f"; {self.chf_tunnel.describe()}" if self.chf_tunnel is not None else ""))
