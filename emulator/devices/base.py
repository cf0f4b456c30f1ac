"""What every emulated HAN device has: a radio on the home's medium, a MAC, a ZigBee stack,
ZCL endpoints, and the plumbing from counters to Prometheus.

A device is built when it powers on (its C{power_on} time in the topology): the MAC
attaches to the medium then, and the stack starts joining (or, for the CH, forms the
network).  Incoming ZCL frames are dispatched to the device's attribute servers and
cluster handlers; ZCL requests the device makes are matched with their responses by
transaction sequence number, with a timeout, so every request ends as answered or
timed out -- never silently lost.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any, Callable

from twisted.logger import Logger
from twisted.python.failure import Failure

from emulator.devices.cbke import CLUSTER_KEY_ESTABLISHMENT, KeyEstablishmentLink, retry_delay
from emulator.rng import derive_rng
from emulator.topology import DeviceSpec
from protocols.errors import CodecError
from protocols.ieee802154.mac import MacLayer
from protocols.zcl import foundation as zf
from protocols.zcl.clusters import get_cluster
from protocols.zcl.frame import (DIRECTION_CLIENT_TO_SERVER, DIRECTION_SERVER_TO_CLIENT, FRAME_TYPE_CLUSTER,
                                 FRAME_TYPE_GLOBAL, ZclFrame, decode_zcl, encode_zcl)
from protocols.zcl.server import AttributeServer, default_response
from protocols.zcl.types import ZCL_EPOCH_UNIX
from protocols.zigbee.limits import DEFAULT_LIMITS, HanLimits
from protocols.zigbee.stack import ApsIndication, ZigbeeStack
from protocols.zigbee.zdo import SimpleDescriptor

log = Logger(namespace="smets.device")

#: ZCL UTCTime epoch (2000-01-01T00:00:00Z) in Unix seconds
ZCL_EPOCH = ZCL_EPOCH_UNIX
PROFILE_SE = 0x0109
CLUSTER_BASIC = 0x0000
CLUSTER_TIME = 0x000A
CLUSTER_PRICE = 0x0700
CLUSTER_METERING = 0x0702
#: ZSE device id of a metering device (the ESME, the GSME, the GPF's mirror endpoints)
DEVICE_ID_METER = 0x0501
#: the CH's application endpoint (CHF: Basic, Time, Price, Tunneling, Key Establishment server)
CHF_ENDPOINT = 0x01

#: profile-wide response commands (matched to our requests by TSN)
_GLOBAL_RESPONSES = frozenset({0x01, 0x04, 0x07, 0x09, 0x0B, 0x0D, 0x12, 0x14, 0x16})

#: counter names of security rejections (also exported per node kind: smets_han_rejections_total)
SECURITY_REJECTIONS = frozenset({
    "se_unsecured", "se_not_link_key", "request_key_not_link_key", "request_key_unknown_requester",
    "aps_ack_security_mismatch", "aps_command_unsecured", "transport_key_rejected", "transport_key_not_from_tc",
    "switch_key_not_from_tc", "zcl_response_mismatch", "zdo_response_mismatch", "zcl_attribute_type_mismatch",
    "address_conflict_unauthenticated", "address_conflict", "mirror_not_owner", "nwk_child_relayed",
    "nwk_command_relayed", "rejoin_capability_kept", "nwk_replay", "aps_replay", "link_status_unknown_sender", "indirect_child_full",
    "nwk_counters_evicted", "address_map_evicted", "mac_duplicates_evicted", "aps_reassembly_evicted",
    "aps_duplicates_evicted", "broadcast_transactions_evicted", "rx_error",
})

#: counter names that are events, not drops (they are kept per device but not exported as drops)
_EVENTS = frozenset({
    "tx", "rx", "tx_ack", "tx_retry", "join_attempt", "aps_retry", "nwk_command", "indirect_queued",
    "broadcast_duplicate", "rx_filtered", "rx_off", "ack_skipped", "interpan_ignored", "nwk_not_for_us",
    "network_key_update", "rejoin", "rejoin_attempt", "device_left",
})


class _NoMetric:
    """Stands in for the Prometheus child of a counter name that is not exported."""

    __slots__ = ()

    def inc(self, amount: float = 1) -> None:
        pass


_NO_METRIC = _NoMetric()


class _Both:
    """Two Prometheus children counted together."""

    __slots__ = ("a", "b")

    def __init__(self, a, b) -> None:
        self.a = a
        self.b = b

    def inc(self, amount: float = 1) -> None:
        self.a.inc(amount)
        self.b.inc(amount)


#: profile-wide request -> its response command (ZCL 2.5)
_GLOBAL_RESPONSE_OF = {0x00: 0x01, 0x02: 0x04, 0x03: 0x04, 0x06: 0x07, 0x08: 0x09, 0x0C: 0x0D, 0x11: 0x12,
                       0x13: 0x14, 0x15: 0x16}
_DEFAULT_RESPONSE = 0x0B


class _Request:
    """A ZCL request awaiting its response: matched on (peer, cluster, command, TSN)."""

    __slots__ = ("callback", "timer", "dst", "peer_eui", "cluster", "direction", "responses", "global_request")

    def __init__(self, callback, timer, dst: int, peer_eui: int | None, cluster: int, frame: ZclFrame,
                 responses: tuple[int, ...] | None) -> None:
        self.callback = callback
        self.timer = timer
        self.dst = dst
        self.peer_eui = peer_eui
        self.cluster = cluster
        self.direction = frame.direction
        self.global_request = frame.frame_type == FRAME_TYPE_GLOBAL
        if self.global_request:
            rsp = _GLOBAL_RESPONSE_OF.get(frame.command_id)
            self.responses = (rsp,) if rsp is not None else ()
        else:
            self.responses = responses  # cluster-specific response commands (None: any)

    def matches(self, ind: ApsIndication, frame: ZclFrame) -> bool:
        if self.cluster != ind.cluster or frame.direction == self.direction:
            return False
        if self.dst < 0xFFF8:
            # the peer the request went to, authenticated by its link key
            if self.peer_eui is not None and (ind.src_eui != self.peer_eui or not ind.link_key_secured):
                return False
            if self.peer_eui is None and ind.src_short != self.dst:
                return False
        if frame.frame_type == FRAME_TYPE_GLOBAL:
            return frame.command_id == _DEFAULT_RESPONSE or frame.command_id in (self.responses or ())
        if frame.frame_type != FRAME_TYPE_CLUSTER or self.global_request:
            return False
        return self.responses is None or frame.command_id in self.responses


class HanDevice:
    """Base of every HAN device.  Subclasses set L{kind}, L{role}, L{rx_on_when_idle} and
    implement L{endpoints_and_servers} and the behaviour hooks."""

    kind = "?"
    role = "router"
    rx_on_when_idle = True
    device_id = 0x0000
    manufacturer_name = "SMETS Emulator"
    model = "emulated"

    def __init__(self, home, spec: DeviceSpec, seed: int) -> None:
        self.home = home
        self.spec = spec
        self.seed = seed
        self.clock = home.clock
        self.metrics = home.metrics
        self.rng = derive_rng(seed, home.spec.name, spec.name, "application")
        self.counts: Counter[str] = Counter()
        self.powered = False
        self.joined_at: float | None = None
        self.started_at: float | None = None
        self.stack: ZigbeeStack | None = None
        self.mac: MacLayer | None = None
        self.port = None
        self.servers: dict[tuple[int, int], AttributeServer] = {}
        self.cluster_handlers: dict[tuple[int, int], Callable[[ApsIndication, ZclFrame], None]] = {}
        self._requests: dict[int, _Request] = {}
        self._tsn = self.rng.randrange(256)
        self._join_failures = 0
        self._metric_children: dict[str, Any] = {}  # counter name -> labelled Prometheus child
        self._application_started = False
        # CBKE (emulator.devices.cbke): credentials from the estate's CAs at power-on
        self.cbke_credentials = None
        self.cbke_counts: Counter[str] = Counter()
        self._cbke_rng = derive_rng(seed, home.spec.name, spec.name, "cbke")
        self._cbke: KeyEstablishmentLink | None = None
        self._cbke_key: bytes | None = None  # the TC link key the last successful run made
        self._cbke_failures = 0
        self._cbke_retry = None

    # ---------------------------------------------------------------- life cycle

    def power_on(self) -> None:
        """Attach the radio, build MAC and stack, start joining (or forming)."""
        home = self.home
        seed, hname, name = self.seed, home.spec.name, self.spec.name
        self.started_at = self.clock.seconds()
        self._application_started = False
        limits = han_limits(home.spec)
        self.stack = ZigbeeStack(self.clock, derive_rng(seed, hname, name, "zigbee"), self.spec.eui64,
                                 role=self.role, rx_on_when_idle=self.rx_on_when_idle, user=self,
                                 count=self._count, key_sink=home.add_key, limits=limits)
        # the band's medium (a dual-band home's 868 MHz devices: its sub-GHz medium)
        self.port = getattr(home, "medium_for", lambda spec: home.medium)(self.spec).attach(name, self)
        self.mac = MacLayer(self.clock, derive_rng(seed, hname, name, "mac"), self.port, self.spec.eui64,
                            self.stack, rx_on_when_idle=self.rx_on_when_idle,
                            pan_coordinator=self.role == "coordinator", counters=self._count,
                            on_error=self._frame_error, duplicate_limit=limits.mac_duplicates,
                            indirect_per_child=limits.indirect_per_child)
        self.stack.attach_mac(self.mac)
        self.cbke_credentials = home.cas.credentials_for(home.spec, self.spec)
        descriptors = self.endpoint_descriptors()
        if self.cbke_credentials is not None and descriptors:
            # Key Establishment on the first endpoint: server on the CH, client on a device
            first = descriptors[0]
            if self.role == "coordinator":
                first = replace(first, in_clusters=first.in_clusters + (CLUSTER_KEY_ESTABLISHMENT,))
            else:
                first = replace(first, out_clusters=first.out_clusters + (CLUSTER_KEY_ESTABLISHMENT,))
            descriptors[0] = first
            self.cluster_handlers[(first.endpoint, CLUSTER_KEY_ESTABLISHMENT)] = self.key_establishment_frame
            # KeyEstablishmentSuite (0x0000) on both sides: crypto suite 2 only
            self.add_server(first.endpoint, CLUSTER_KEY_ESTABLISHMENT, {"KeyEstablishmentSuite": 0x0002},
                            client_side=self.role != "coordinator")
        for descriptor in descriptors:
            self.stack.add_endpoint(descriptor, self._aps_data)
        self.powered = True
        self.start()

    def _frame_error(self, exc: BaseException) -> None:
        """An upper layer raised while handling a received frame: a bug, never a silent drop.
        Counted by the MAC (C{rx_error}), logged with its traceback, and counted as an error
        of the run (which then exits 1, as after a failing scheduled call)."""
        self.home.errors += 1
        log.failure("{home}/{name}: handling a received frame failed", failure=Failure(exc),
                    home=self.home.spec.name, name=self.spec.name)

    def frame_received(self, psdu: bytes) -> None:
        """The medium's delivery: hand the PSDU to the MAC (which never raises)."""
        if self.mac is not None:
            self.mac.frame_received(psdu)

    def start(self) -> None:
        """Begin the device's behaviour once powered (default: join the HAN)."""
        self.stack.set_trust_center_link_key(self.install_code_link_key())
        self.stack.join()
        # scheduled HAN events of the topology (seconds after power-on)
        for at in self.spec.params.get("rejoin_at", ()):
            self.clock.callLater(float(at), self.stack.rejoin)
        for at in self.spec.params.get("leave_at", ()):
            self.clock.callLater(float(at), self.stack.leave_network)

    def install_code_link_key(self) -> bytes:
        from protocols.zigbee.keys import append_install_code_crc, install_code_to_link_key
        return install_code_to_link_key(append_install_code_crc(self.spec.install_code))

    # ---------------------------------------------------------------- counters

    def _count(self, name: str) -> None:
        self.counts[name] += 1
        child = self._metric_children.get(name)
        if child is None:
            m = self.metrics
            if name == "tx":
                child = m.frames_sent.labels("han", self.kind)
            elif name == "rx":
                child = m.frames_received.labels("han", self.kind)
            elif name == "tx_retry":
                child = m.mac_retries.labels(self.kind)
            elif name not in _EVENTS and not name.startswith("malformed:"):
                child = m.frames_dropped.labels("han", name)
            else:
                child = _NO_METRIC
            if name in SECURITY_REJECTIONS:
                child = _Both(child, m.han_rejections.labels(self.kind, name))
            self._metric_children[name] = child
        child.inc()

    # ---------------------------------------------------------------- joining

    def stack_joined(self) -> None:
        self.joined_at = self.clock.seconds()
        self._join_failures = 0
        self.metrics.joins.labels(self.kind, "joined").inc()
        self.metrics.devices_up.labels(self.kind).inc()
        log.info("{home}/{name} ({kind} {eui:016X}) joined the HAN as 0x{short:04X}",
                 home=self.home.spec.name, name=self.spec.name, kind=self.kind, eui=self.spec.eui64,
                 short=self.stack.short)
        if not self.key_established():
            # joined with the install-code link key: key establishment with the CH first
            # (a secured rejoin keeps the CBKE key and goes straight on)
            if self._cbke is None and self._cbke_retry is None:
                self._start_key_establishment()
            return
        self._start_application()

    def key_established(self) -> bool:
        """Whether the device may take part in application traffic: it does not run CBKE (or is
        the CH), or its TC link key is the one its last CBKE run made."""
        if self.cbke_credentials is None or self.role == "coordinator" or self.stack is None:
            return True
        return self._cbke_key is not None and self.stack.link_keys.get(self.stack.tc_eui) == self._cbke_key

    def _start_application(self) -> None:
        if not self._application_started:
            # the application starts once per power-on; joining again later (after a failed
            # rejoin) does not start it twice
            self._application_started = True
            self.joined()

    # ---------------------------------------------------------------- key establishment (initiator)

    def _start_key_establishment(self) -> None:

        self._cbke_retry = None
        stack = self.stack
        if not stack.joined or stack.tc_eui is None:
            return  # joining again will start it
        endpoint = next(iter(ep for (ep, cluster) in self.cluster_handlers if cluster == CLUSTER_KEY_ESTABLISHMENT))

        def send(frame: ZclFrame) -> None:
            self.stack.send_data(0x0000, CHF_ENDPOINT, endpoint, CLUSTER_KEY_ESTABLISHMENT, encode_zcl(frame),
                                 aps_security=False)

        self.cbke_busy(True)
        self._cbke = KeyEstablishmentLink(initiator=True, clock=self.clock, rng=self._cbke_rng,
                                          credentials=self.cbke_credentials, partner_eui64=stack.tc_eui,
                                          send_zcl=send, next_tsn=self.next_tsn, on_done=self._cbke_done)
        self._cbke_count("started")
        self._cbke.start()

    def key_establishment_frame(self, ind: ApsIndication, frame: ZclFrame) -> None:
        """A Key Establishment command (cluster 0x0800) for this device (the initiator)."""
        if self._cbke is None or ind.src_short != 0x0000:
            self._count("cbke_unexpected")
            return
        self._cbke.receive_frame(frame)

    def _cbke_done(self, result) -> None:
        self._cbke = None
        self.cbke_busy(False)
        if result.established:
            stack = self.stack
            stack.install_link_key(stack.tc_eui, result.link_key)
            self._cbke_key = result.link_key
            self._cbke_failures = 0
            self._cbke_count("established")
            log.info("{home}/{name} ({kind}): key establishment with the CH done; CBKE TC link key in use",
                     home=self.home.spec.name, name=self.spec.name, kind=self.kind)
            self._start_application()
            return
        self._cbke_failures += 1
        outcome = terminate_status_name(result.status) if result.status is not None else result.outcome.value
        self._cbke_count(outcome)
        delay = retry_delay(self._cbke_failures, result.wait_time, self._cbke_rng)
        log.info("{home}/{name} ({kind}): key establishment failed ({outcome}: {reason}); retrying in {delay:.0f} s",
                 home=self.home.spec.name, name=self.spec.name, kind=self.kind, outcome=outcome,
                 reason=result.reason, delay=delay)
        self._cbke_retry = self.clock.callLater(delay, self._start_key_establishment)

    def _cbke_count(self, outcome: str) -> None:
        self.cbke_counts[outcome] += 1
        self.metrics.key_establishments.labels(self.kind, outcome).inc()

    def cbke_busy(self, busy: bool) -> None:
        """Hook: a key establishment run starts (True) or ends (False): a sleepy device polls meanwhile."""

    def stack_join_failed(self, reason: str) -> None:
        self._join_failures += 1
        self.metrics.joins.labels(self.kind, reason).inc()
        backoff = min(300.0, 2.0 * 2 ** min(self._join_failures, 8)) * self.rng.uniform(0.8, 1.2)
        log.info("{home}/{name} ({kind}) could not join ({reason}); retrying in {backoff:.0f} s",
                 home=self.home.spec.name, name=self.spec.name, kind=self.kind, reason=reason, backoff=backoff)
        self.clock.callLater(backoff, self.stack.join)

    def joined(self) -> None:
        """Hook: the device has the network key and has announced itself."""

    # ---------------------------------------------------------------- endpoints

    def endpoint_descriptors(self) -> list[SimpleDescriptor]:
        """The simple descriptors of this device's application endpoints."""
        return []

    def add_server(self, endpoint: int, cluster_id: int, values: dict[str, Any], *, client_side: bool = False,
                   accept_reports: bool = False) -> AttributeServer:
        """Serve C{cluster_id} on C{endpoint} with the named attribute values."""
        cluster = get_cluster(cluster_id)
        server = AttributeServer.with_defaults(cluster, list(values), values, client_side=client_side,
                                               accept_reports=accept_reports, first_tsn=self.rng.randrange(256),
                                               max_reporting=han_limits(self.home.spec).reporting_configurations)
        self.servers[(endpoint, cluster_id)] = server
        return server

    def basic_values(self, power_source: int) -> dict[str, Any]:
        return {"ZCLVersion": 3, "ApplicationVersion": 1, "StackVersion": 2, "HWVersion": 1,
                "ManufacturerName": self.manufacturer_name, "ModelIdentifier": self.model,
                "DateCode": "20260101", "PowerSource": power_source, "PhysicalEnvironment": 1}

    def refresh(self, endpoint: int, cluster_id: int) -> None:
        """Hook: bring attribute values up to date before a read."""

    def _aps_data(self, ind: ApsIndication) -> None:
        if ind.profile != PROFILE_SE:
            self._count("wrong_profile")
            return
        if ind.cluster != CLUSTER_KEY_ESTABLISHMENT and not self.key_established():
            # off application traffic until key establishment with the CH succeeded
            self._count("cbke_pending")
            return
        try:
            frame = decode_zcl(ind.payload)
        except CodecError:
            self._count("zcl_malformed")
            return
        try:
            self._zcl_received(ind, frame)
        except CodecError:
            self._count("zcl_malformed")
            if frame.frame_type == FRAME_TYPE_CLUSTER and not frame.disable_default_response:
                self.reply(ind, default_response(frame, zf.Status.MALFORMED_COMMAND))

    def _zcl_received(self, ind: ApsIndication, frame: ZclFrame) -> None:
        key = (ind.dst_endpoint, ind.cluster)
        # responses to requests we made (same TSN, cluster and peer)
        is_global_response = frame.frame_type == FRAME_TYPE_GLOBAL and frame.command_id in _GLOBAL_RESPONSES
        req = self._requests.get(frame.tsn)
        if req is not None and req.matches(ind, frame):
            del self._requests[frame.tsn]
            if req.timer.active():
                req.timer.cancel()
            req.callback(ind, frame)
            return
        if is_global_response:
            if req is not None:
                self._count("zcl_response_mismatch")  # our TSN, but not from the peer / cluster / command asked
            elif frame.command_id != 0x0B:
                self._count("zcl_unexpected_response")
            return
        handler = self.cluster_handlers.get(key)
        if handler is not None and frame.frame_type == FRAME_TYPE_CLUSTER:
            handler(ind, frame)
            return
        server = self.servers.get(key)
        if server is None:
            self._count("zcl_unsupported_cluster")
            if not frame.disable_default_response and ind.dst_endpoint != 0xFF:
                self.reply(ind, default_response(frame, zf.Status.UNSUPPORTED_CLUSTER))
            return
        if frame.frame_type == FRAME_TYPE_GLOBAL and frame.command_id == 0x0A:
            response = server.handle_report(frame)
        else:
            if frame.frame_type == FRAME_TYPE_GLOBAL and frame.command_id == 0x00:
                self.refresh(ind.dst_endpoint, ind.cluster)
            response = server.handle(frame)
        if response is not None:
            self.reply(ind, response)

    def reply(self, ind: ApsIndication, frame: ZclFrame) -> None:
        """Send C{frame} back to the originator of C{ind}."""
        self.stack.send_data(ind.src_short, ind.src_endpoint, ind.dst_endpoint, ind.cluster, encode_zcl(frame),
                             aps_security=ind.aps_secured)

    # ---------------------------------------------------------------- requests

    def next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) & 0xFF
        return self._tsn

    def request(self, dst_short: int, dst_endpoint: int, src_endpoint: int, cluster: int, frame: ZclFrame,
                on_response: Callable[[ApsIndication | None, ZclFrame | None], None], timeout: float = 8.0,
                responses: tuple[int, ...] | None = None) -> None:
        """Send a ZCL request; C{on_response(ind, frame)} or C{on_response(None, None)} on timeout.

        The response is the frame with the request's TSN, cluster and opposite direction from
        the device the request went to (authenticated by its link key): for a profile-wide
        command its response command or a Default Response, for a cluster command a Default
        Response or one of C{responses} (cluster command ids; C{None}: any)."""
        old = self._requests.pop(frame.tsn, None)
        if old is not None and old.timer.active():
            old.timer.cancel()
            old.callback(None, None)
        timer = self.clock.callLater(timeout, self._request_timeout, frame.tsn)
        peer = self.stack.eui_of(dst_short) if dst_short < 0xFFF8 else None
        self._requests[frame.tsn] = _Request(on_response, timer, dst_short, peer, cluster, frame, responses)
        self.stack.send_data(dst_short, dst_endpoint, src_endpoint, cluster, encode_zcl(frame))

    def _request_timeout(self, tsn: int) -> None:
        req = self._requests.pop(tsn, None)
        if req is not None:
            req.callback(None, None)

    def read_attributes(self, dst_short: int, dst_endpoint: int, src_endpoint: int, cluster: int,
                        attribute_ids: tuple[int, ...],
                        on_response: Callable[[dict[int, Any] | None], None], timeout: float = 8.0) -> None:
        """Read Attributes; C{on_response({attr: value})} (only successful records) or C{None}."""
        frame = zf.global_frame(zf.ReadAttributes(tuple(attribute_ids)), self.next_tsn(), DIRECTION_CLIENT_TO_SERVER)

        def done(ind, rsp) -> None:
            if rsp is None or rsp.command_id != 0x01:
                on_response(None)
                return
            try:
                records = zf.ReadAttributesResponse.decode(rsp.payload).records
            except CodecError:
                self._count("zcl_malformed")
                on_response(None)
                return
            on_response(self._typed_values(cluster, records))

        self.request(dst_short, dst_endpoint, src_endpoint, cluster, frame, done, timeout)

    def _typed_values(self, cluster_id: int, records) -> dict[int, Any]:
        """The successful records of a Read Attributes Response whose data type is the one the
        cluster defines for the attribute (others are counted and left out: a reader never
        gets a string where the spec has a UTCTime)."""
        try:
            attributes = get_cluster(cluster_id).attributes
        except CodecError:
            attributes = {}
        values = {}
        for r in records:
            if r.status != 0:
                continue
            d = attributes.get(r.attribute_id)
            if d is not None and d.type_id != r.type_id:
                self._count("zcl_attribute_type_mismatch")
                continue
            values[r.attribute_id] = r.value
        return values

    def cluster_command(self, cluster_id: int, direction: int, name: str, **fields: Any) -> ZclFrame:
        from protocols.zcl.clusters import cluster_frame
        return cluster_frame(cluster_id, direction, name, self.next_tsn(), **fields)

    # ---------------------------------------------------------------- reporting

    def summary(self) -> str:
        state = f"joined at +{self.joined_at - self.home.start_time:.1f} s" if self.joined_at is not None \
            else "not joined"
        if self.kind == "CH" and self.powered:
            state = "network formed"
        drops = {k: v for k, v in sorted(self.counts.items()) if k not in _EVENTS and not k.startswith("malformed:")}
        extra = self.describe()
        return (f"{self.spec.name} ({self.kind} {self.spec.eui64:016X}): {state}; frames sent {self.counts['tx']}, "
                f"received {self.counts['rx']}, MAC retries {self.counts['tx_retry']}"
                + (f"; {extra}" if extra else "")
                + (f"; CBKE {dict(sorted(self.cbke_counts.items()))}" if self.cbke_counts else "")
                + (f"; drops {dict(drops)}" if drops else ""))

    def describe(self) -> str:
        """Hook: device-specific figures for the run summary."""
        return ""


def han_limits(home_spec) -> HanLimits:
    """The table limits of a home's nodes (the topology's C{han: {limits: ...}}, else the defaults)."""
    limits = getattr(home_spec, "han_limits", None)
    return limits if limits is not None else DEFAULT_LIMITS


def terminate_status_name(status: int) -> str:
    """The Terminate Key Establishment status by its ZSE name (or its number if unknown)."""
    from protocols.zigbee.cbke.messages import TerminateStatus
    try:
        return TerminateStatus(status).name
    except ValueError:
        return f"status_{int(status)}"


def utc_now(clock) -> int:
    """ZCL UTCTime of the clock's current time."""
    return int(clock.seconds()) - ZCL_EPOCH


__all__ = ["HanDevice", "ZCL_EPOCH", "PROFILE_SE", "CLUSTER_BASIC", "CLUSTER_TIME", "CLUSTER_PRICE",
           "CLUSTER_METERING", "DEVICE_ID_METER", "DIRECTION_CLIENT_TO_SERVER", "DIRECTION_SERVER_TO_CLIENT", "utc_now",
           "terminate_status_name"]
