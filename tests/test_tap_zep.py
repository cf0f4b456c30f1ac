"""ZEP v2 / Ethernet / IPv4 / UDP codec and the HAN<->Ethernet bridge, without a kernel.

Layouts are checked against the ZEP table of han-zigbee-wireshark.md 1.2 (offsets written out
here by hand) and the Ethernet/IPv4/UDP/ARP bytes against scapy, which builds and checksums
them independently; the live TAP with tshark is in test_tap_netns.py.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from emulator.clock import VirtualClock
from emulator.medium import INJECT_SENDER, HanMedium
from protocols.ieee802154.commands import beacon_request_frame
from protocols.ieee802154.frames import encode_mac, fcs
from tap.han import CLEAR_CHANNEL_WAIT, INJECT_QUEUE_LIMIT, LINK_LOCAL_BROADCAST, HanZepBridge
from tap.zep import (NTP_UNIX_OFFSET, ZEP_PORT, ZepAck, ZepError, ZepFrame, bridge_addresses, decode_ipv4,
                     decode_udp, decode_zep, encode_zep, internet_checksum)

# a MAC Beacon Request (FCF 0x0803, seq 0x42, dst PAN 0xFFFF, dst 0xFFFF, command 0x07) + FCS
BEACON_REQUEST = encode_mac(beacon_request_frame(0x42))


def test_beacon_request_fixture_is_the_spec_frame() -> None:
    assert BEACON_REQUEST[:8] == bytes.fromhex("0308 42 FFFF FFFF 07".replace(" ", ""))
    assert fcs(BEACON_REQUEST) == 0


def test_zep_v2_data_layout() -> None:
    """Every field at the offset han-zigbee-wireshark.md 1.2 gives, big-endian."""
    t = 1_780_000_000.25
    data = encode_zep(ZepFrame(channel=15, device_id=0x0203, crc_mode=True, lqi=0xEE, timestamp=t,
                               sequence=0x01020304, psdu=BEACON_REQUEST))
    assert data[0:2] == b"EX" and data[2] == 2 and data[3] == 1
    assert data[4] == 15 and data[5:7] == b"\x02\x03" and data[7] == 1 and data[8] == 0xEE
    secs, frac = struct.unpack(">II", data[9:17])
    assert secs == 1_780_000_000 + 2_208_988_800 and frac == 2 ** 30  # .25 of a second
    assert data[17:21] == b"\x01\x02\x03\x04" and data[21:31] == bytes(10)
    assert data[31] == len(BEACON_REQUEST) == len(data) - 32 and data[32:] == BEACON_REQUEST
    back = decode_zep(data)
    assert back == ZepFrame(15, 0x0203, True, 0xEE, t, 0x01020304, BEACON_REQUEST)
    assert NTP_UNIX_OFFSET == 2_208_988_800


def test_zep_v1_and_ack() -> None:
    v1 = b"EX\x01\x0b\x00\x07\x01\x80" + bytes(7) + bytes((len(BEACON_REQUEST),)) + BEACON_REQUEST
    f = decode_zep(v1)
    assert (f.version, f.channel, f.device_id, f.crc_mode, f.lqi, f.psdu) == (1, 11, 7, True, 0x80, BEACON_REQUEST)
    assert decode_zep(b"EX\x02\x02\x00\x00\x01\x00") == ZepAck(256)


@pytest.mark.parametrize("data, kind", [
    (b"hello world, not zep at all", "not_zep"),
    (b"EX\x00\x01" + bytes(40), "not_zep"),
    (b"EX\x02\x01" + bytes(20), "truncated"),
    (b"EX\x02\x02\x00\x00\x00\x01\x00", "bad_length"),  # an ack is exactly 8 bytes
])
def test_zep_rejects(data: bytes, kind: str) -> None:
    with pytest.raises(ZepError) as e:
        decode_zep(data)
    assert e.value.kind == kind


def _zep(psdu: bytes, *, length: int | None = None, crc_mode: bool = True, channel: int = 15) -> bytes:
    data = bytearray(encode_zep(ZepFrame(channel, 1, crc_mode, 255, 1.7e9, 1, psdu)))
    if length is not None:
        data[31] = length
    return bytes(data)


@pytest.mark.parametrize("delta", [-1, +1, +0x80])
def test_zep_length_must_match(delta: int) -> None:
    with pytest.raises(ZepError) as e:
        decode_zep(_zep(BEACON_REQUEST, length=len(BEACON_REQUEST) + delta))
    assert e.value.kind == "bad_length"


def test_fcs_and_cc24xx_metadata() -> None:
    assert decode_zep(_zep(BEACON_REQUEST)).mpdu_with_fcs() == BEACON_REQUEST
    bad = BEACON_REQUEST[:-1] + bytes((BEACON_REQUEST[-1] ^ 1,))
    with pytest.raises(ZepError) as e:
        decode_zep(_zep(bad)).mpdu_with_fcs()
    assert e.value.kind == "bad_fcs"
    # LQI mode: RSSI byte, then bit 7 = CRC OK; the FCS is recomputed
    ok = BEACON_REQUEST[:-2] + b"\xd0\x80"
    assert decode_zep(_zep(ok, crc_mode=False)).mpdu_with_fcs() == BEACON_REQUEST
    with pytest.raises(ZepError):
        decode_zep(_zep(BEACON_REQUEST[:-2] + b"\xd0\x7f", crc_mode=False)).mpdu_with_fcs()


def test_ip_and_udp_checksums_match_scapy() -> None:
    """Our IPv4 header and UDP checksum equal scapy's for the same fields, and scapy's decode ours."""
    mac, ip = bridge_addresses("home-0001")
    zep = _zep(BEACON_REQUEST)
    medium = HanMedium(VirtualClock(), 1, "home-0001", channel=15)
    frame = HanZepBridge(medium, lambda f: None).ethernet_for(zep)
    ours = Ether(frame)
    theirs = Ether(dst="ff:ff:ff:ff:ff:ff", src=ours.src, type=0x0800) / IP(
        src="169.254.%d.%d" % (ip[2], ip[3]), dst="169.254.255.255", id=ours[IP].id, flags="DF", ttl=64) / \
        UDP(sport=17754, dport=17754) / zep
    assert frame == bytes(theirs)
    assert ours[IP].chksum == Ether(bytes(theirs))[IP].chksum != 0  # scapy computed both checksums
    assert ours[UDP].chksum == Ether(bytes(theirs))[UDP].chksum != 0
    assert decode_udp(decode_ipv4(frame[14:]).payload, ip, LINK_LOCAL_BROADCAST).payload == zep
    assert internet_checksum(frame[14:34]) == 0


def test_bridge_addresses_are_deterministic_link_local() -> None:
    mac, ip = bridge_addresses("home-0001")
    assert (mac, ip) == bridge_addresses("home-0001") != bridge_addresses("home-0002")
    assert mac[0] & 0x02 and not mac[0] & 0x01  # locally administered unicast
    assert ip[:2] == b"\xa9\xfe" and 1 <= ip[2] <= 254


# -- the bridge ------------------------------------------------------------------------------------

class Radio:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    def frame_received(self, psdu: bytes) -> None:
        self.got.append(psdu)


@pytest.fixture()
def han():
    clock = VirtualClock(start=1_780_000_000.0)
    medium = HanMedium(clock, 1, "home-0001", channel=15)
    radio = Radio()
    port = medium.attach("esme", radio)
    out: list[bytes] = []
    drops: list[str] = []
    bridge = HanZepBridge(medium, out.append, device_ids={"esme": 2}, on_drop=drops.append)
    return clock, medium, port, radio, bridge, out, drops


def _to_bridge(bridge: HanZepBridge, payload: bytes, *, dport: int = ZEP_PORT, dst_ip: str | None = None,
               corrupt_udp: bool = False) -> bytes:
    ip = dst_ip or ".".join(map(str, bridge.ip))
    pkt = Ether(src="02:00:00:00:00:01", dst=":".join(f"{b:02x}" for b in bridge.mac)) / \
        IP(src="169.254.0.1", dst=ip) / UDP(sport=40000, dport=dport) / payload
    raw = bytearray(bytes(pkt))
    if corrupt_udp:
        raw[14 + 20 + 6] ^= 0x55
    return bytes(raw)


def test_air_frames_go_out_as_zep(han) -> None:
    clock, medium, port, radio, bridge, out, drops = han
    clock.run_until(1_780_000_000.5)
    port.transmit(BEACON_REQUEST)
    port.transmit(BEACON_REQUEST)
    assert len(out) == 2
    eth = Ether(out[1])
    assert eth.dst == "ff:ff:ff:ff:ff:ff" and eth[IP].dst == "169.254.255.255" and eth[UDP].dport == 17754
    zep = decode_zep(bytes(eth[UDP].payload))
    assert (zep.channel, zep.device_id, zep.crc_mode, zep.sequence, zep.psdu) == (15, 2, True, 2, BEACON_REQUEST)
    assert zep.timestamp == pytest.approx(1_780_000_000.5, abs=1e-6)


def test_zep_in_reaches_the_radio_and_is_not_echoed(han) -> None:
    clock, medium, port, radio, bridge, out, drops = han
    bridge.ethernet_received(_to_bridge(bridge, _zep(BEACON_REQUEST)))
    clock.advance(0.01)
    assert radio.got == [BEACON_REQUEST] and out == [] and bridge.counts["in"] == 1
    assert medium.counts["tx"] == 1  # on the air as if from INJECT_SENDER
    medium.inject(BEACON_REQUEST)     # someone else's injection is on the air: it goes out
    assert len(out) == 1 and decode_zep(bytes(Ether(out[0])[UDP].payload)).device_id == 0
    assert INJECT_SENDER not in bridge.device_ids


def test_injection_waits_for_a_clear_channel(han) -> None:
    """A frame from the interface is not put on top of a transmission (nor its Ack turnaround)."""
    clock, medium, port, radio, bridge, out, drops = han
    other = Radio()
    medium.attach("ihd", other)
    start = clock.seconds()
    busy = port.transmit(bytes(100))  # the ESME is sending (3.4 ms)
    clock.advance(0.001)
    bridge.ethernet_received(_to_bridge(bridge, _zep(BEACON_REQUEST)))
    bridge.ethernet_received(_to_bridge(bridge, _zep(BEACON_REQUEST)))
    assert medium.counts["tx"] == 1 and bridge.counts["in"] == 0
    clock.advance(0.01)
    assert medium.counts["collision"] == 0 and bridge.counts["in"] == 2
    assert other.got == [bytes(100), BEACON_REQUEST, BEACON_REQUEST] and radio.got == [BEACON_REQUEST] * 2
    assert clock.seconds() - start >= busy + 2 * CLEAR_CHANNEL_WAIT


def test_a_full_injection_queue_drops(han) -> None:
    clock, medium, port, radio, bridge, out, drops = han
    port.transmit(bytes(127))
    for _ in range(INJECT_QUEUE_LIMIT + 2):
        bridge.ethernet_received(_to_bridge(bridge, _zep(BEACON_REQUEST)))
    assert bridge.dropped == {"queue_full": 2} and drops == ["queue_full"] * 2
    clock.advance(1.0)
    assert bridge.counts["in"] == INJECT_QUEUE_LIMIT and medium.counts["collision"] == 0


@pytest.mark.parametrize("payload, kind", [
    (b"not ZEP, just some bytes", "not_zep"),
    (None, "bad_length"),
    (None, "bad_fcs"),
    (None, "wrong_channel"),
    (None, "bad_udp_checksum"),
])
def test_bad_input_is_counted_and_dropped(han, payload: bytes | None, kind: str) -> None:
    clock, medium, port, radio, bridge, out, drops = han
    corrupt = False
    if kind == "bad_length":
        payload = _zep(BEACON_REQUEST, length=60)
    elif kind == "bad_fcs":
        payload = _zep(BEACON_REQUEST[:-2] + b"\x00\x00")
    elif kind == "wrong_channel":
        payload = _zep(BEACON_REQUEST, channel=20)
    elif kind == "bad_udp_checksum":
        payload, corrupt = _zep(BEACON_REQUEST), True
    bridge.ethernet_received(_to_bridge(bridge, payload, corrupt_udp=corrupt))
    clock.advance(0.01)
    assert radio.got == [] and medium.counts["tx"] == 0
    assert bridge.dropped == {kind: 1} and drops == [kind]


def test_traffic_not_for_the_bridge_is_ignored(han) -> None:
    clock, medium, port, radio, bridge, out, drops = han
    bridge.ethernet_received(_to_bridge(bridge, b"x", dport=53))
    bridge.ethernet_received(_to_bridge(bridge, _zep(BEACON_REQUEST), dst_ip="169.254.9.9"))
    bridge.ethernet_received(bytes(Ether(dst="33:33:00:00:00:16", type=0x86DD) / (b"\x60" + bytes(60))))
    bridge.ethernet_received(b"\x01\x02")
    assert bridge.ignored == {"other_port": 1, "other_ip": 1, "other_mac": 1}
    assert bridge.dropped == {"truncated": 1} and medium.counts["tx"] == 0


def test_arp_for_the_bridge_is_answered(han) -> None:
    clock, medium, port, radio, bridge, out, drops = han
    ip = ".".join(map(str, bridge.ip))
    bridge.ethernet_received(bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") /
                                   ARP(op=1, hwsrc="02:00:00:00:00:01", psrc="169.254.0.1", pdst=ip)))
    bridge.ethernet_received(bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") /
                                   ARP(op=1, hwsrc="02:00:00:00:00:01", psrc="169.254.0.1", pdst="169.254.0.2")))
    assert len(out) == 1
    reply = Ether(out[0])
    assert reply.dst == "02:00:00:00:00:01" and reply[ARP].op == 2 and reply[ARP].psrc == ip
    assert reply[ARP].hwsrc == ":".join(f"{b:02x}" for b in bridge.mac) and reply[ARP].pdst == "169.254.0.1"


def test_write_errors_are_counted(han) -> None:
    clock, medium, port, radio, bridge, out, drops = han

    def fail(frame: bytes) -> None:
        raise OSError(5, "Input/output error")

    bridge.write = fail
    port.transmit(BEACON_REQUEST)
    assert bridge.counts["write_errors"] == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 200))
def test_random_frames_never_raise(noise: bytes, cut: int) -> None:
    clock = VirtualClock()
    medium = HanMedium(clock, 1, "home-0001", channel=15)
    bridge = HanZepBridge(medium, lambda f: None)
    good = bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / IP(src="169.254.0.1", dst="169.254.255.255") /
                 UDP(sport=1, dport=ZEP_PORT) / _zep(BEACON_REQUEST))
    bridge.ethernet_received(noise)
    bridge.ethernet_received(good[:cut] + noise)
    bridge.ethernet_received(good[:14 + 28] + noise)
    total = sum(bridge.dropped.values()) + sum(bridge.ignored.values()) + bridge.counts["in"]
    assert total == 3


def test_an_injected_zdo_request_is_answered_by_the_hub(tmp_path) -> None:
    """A ZEP frame carrying an Active_EP_req secured with the network key from the --keys table
    reaches the CH through the bridge, and the CH's Active_EP_rsp goes back out as ZEP."""
    from protocols.ieee802154.frames import decode_mac
    from protocols.zigbee.security import unsecure_nwk
    from tests.han_helpers import SINGLE_HOME, run_estate
    from tests.tap_helpers import INTRUDER_SHORT, active_ep_request, network_key_from

    out: list[bytes] = []

    def bridge_it(estate, clock) -> None:
        home = estate.homes[0]
        bridge = HanZepBridge(home.medium, out.append)

        def inject() -> None:  # the hub has formed the network and exported its key by now
            psdu = active_ep_request(home.spec.pan_id, network_key_from(tmp_path / "zigbee_pc_keys"))
            bridge.ethernet_received(_to_bridge(bridge, _zep(psdu)))
            assert bridge.counts["in"] == 1 and not bridge.dropped

        clock.callLater(30.0, inject)

    estate = run_estate(tmp_path, SINGLE_HOME.read_text(), seed=3, duration=32.0, before_run=bridge_it)
    key = network_key_from(tmp_path / "zigbee_pc_keys")
    answers = []
    for eth in out:
        zep = decode_zep(bytes(Ether(eth)[UDP].payload))
        mac = decode_mac(zep.psdu)
        if mac.frame_type != 1 or mac.dst_addr != INTRUDER_SHORT:
            continue
        nwk_frame, _ = unsecure_nwk(mac.payload, key)
        aps = nwk_frame.payload
        if aps[0] & 0x03 == 0 and int.from_bytes(aps[2:4], "little") == 0x8005:  # Active_EP_rsp
            answers.append((zep.timestamp, nwk_frame.src, aps[8:]))
    assert answers, "the CH did not answer the injected Active_EP_req"
    t, src, zdp = answers[0]
    assert src == 0x0000 and zdp[0] == 0x31 and zdp[1] == 0  # our TSN, SUCCESS
    assert int.from_bytes(zdp[2:4], "little") == 0x0000 and zdp[4] >= 1  # the CH's endpoints
    assert t >= estate.topology.start_time + 30.0
    assert estate.errors == 0


def test_same_seed_same_zep_stream(tmp_path) -> None:
    """In virtual time the bridge's output is a function of the seed: byte-identical twice."""
    from tests.han_helpers import SINGLE_HOME, run_estate

    def stream(seed: int, name: str) -> list[bytes]:
        out: list[bytes] = []
        d = tmp_path / name
        d.mkdir()
        run_estate(d, SINGLE_HOME.read_text(), seed=seed, duration=20.0, pcap=False,
                   before_run=lambda estate, clock: HanZepBridge(estate.homes[0].medium, out.append))
        return out

    a, b = stream(3, "a"), stream(3, "b")
    assert len(a) > 50 and a == b
    assert stream(4, "c") != a
