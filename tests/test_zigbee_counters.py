"""Frame counters belong to keys (ZigBee PRO 05-3474 4.3.1 / 4.4.1): one sequence per network
key (and key sequence number) shared by NWK and APS security, one per link key; 0xFFFFFFFF is
never sent; a device that joins again with restarted counters is accepted by the trust centre."""

from __future__ import annotations

from pathlib import Path

from protocols.zigbee import aps as _aps
from protocols.zigbee.security import KEY_ID_NETWORK, unsecure_aps, unsecure_nwk
from tests.han_helpers import (FAKE_LINK_KEY, FAKE_ME, FAKE_NWK_KEY, FAKE_PEER, fake_zigbee_node, run_estate,
                               topology_text)

NWK_KEY = FAKE_NWK_KEY
NEW_KEY = bytes(range(16, 32))
LINK_KEY = FAKE_LINK_KEY
ME = FAKE_ME
PEER = FAKE_PEER


def _node():
    return fake_zigbee_node()


def _nwk_counter(data: bytes, key: bytes = NWK_KEY) -> int:
    return unsecure_nwk(data, key)[1].frame_counter


def _aps_counter(data: bytes, key: bytes) -> int:
    frame, _ = unsecure_nwk(data, NWK_KEY)
    return unsecure_aps(frame.payload, key, source=ME)[1].frame_counter


def test_network_key_counter_is_shared_by_nwk_and_aps_security():
    """An APS frame secured with the network key (key id 1) takes the next counter of the
    network key, so its CCM* nonce (source, counter, control) never repeats one of a NWK frame."""
    nib, nwk, aps, _ = _node()
    cmd = _aps.ApsFrame(_aps.APS_FRAME_COMMAND, counter=1, payload=_aps.encode_aps_command(_aps.SwitchKey(0)),
                        security=True, ack_request=False)
    nwk.send(0x5678, aps.secure(cmd, PEER, KEY_ID_NETWORK))
    nwk.send(0x5678, aps.secure(cmd, PEER, KEY_ID_NETWORK))
    sent = nib.mac.sent
    nwk_counters = [_nwk_counter(d) for d in sent]
    aps_counters = [_aps_counter(d, NWK_KEY) for d in sent]
    # APS secures first (counter n), then NWK (n + 1)
    assert aps_counters == [0, 2] and nwk_counters == [1, 3]


def test_aps_frame_under_the_network_key_is_accepted_by_the_receiver():
    """The receiver checks APS key-id-1 counters apart from NWK ones (the APS counter of a frame
    is below the NWK counter of the same frame: one outgoing sequence, APS secured first)."""
    nib, nwk, aps, _ = _node()
    cmd = _aps.ApsFrame(_aps.APS_FRAME_COMMAND, counter=1, payload=_aps.encode_aps_command(_aps.SwitchKey(0)),
                        security=True, ack_request=False)
    nwk.send(0x5678, aps.secure(cmd, PEER, KEY_ID_NETWORK))
    rx, _, rx_aps, rx_counted = _node()
    commands: list = []
    rx_aps.on_command = lambda *a: commands.append(a)
    rx.addresses.set(0x1234, ME)
    frame, aux = unsecure_nwk(nib.mac.sent[0], NWK_KEY)
    assert rx.counters.check_incoming(ME, rx.network_handle(0), aux.frame_counter)
    rx_aps.deliver(frame, False)
    assert len(commands) == 1 and "aps_replay" not in rx_counted


def test_link_key_counters_are_per_key():
    nib, nwk, aps, _ = _node()
    aps.send_data(0x5678, 1, 1, 0x0702, b"a", ack=False)
    aps.send_data(0x5678, 1, 1, 0x0702, b"b", ack=False)
    assert [_aps_counter(d, LINK_KEY) for d in nib.mac.sent] == [0, 1]
    assert [_nwk_counter(d) for d in nib.mac.sent] == [0, 1]
    nib.set_link_key(PEER, NEW_KEY)  # a new link key starts its own counter
    aps.send_data(0x5678, 1, 1, 0x0702, b"c", ack=False)
    assert _aps_counter(nib.mac.sent[-1], NEW_KEY) == 0 and _nwk_counter(nib.mac.sent[-1]) == 2


def test_counter_0xffffffff_is_never_sent_until_the_key_is_replaced():
    nib, nwk, aps, counted = _node()
    nib.counters.set_outgoing(nib.network_handle(0), 0xFFFFFFFE)
    assert nwk.send(0x5678, b"\x00last") is True
    assert _nwk_counter(nib.mac.sent[-1]) == 0xFFFFFFFE
    assert nwk.send(0x5678, b"\x00never") is False
    assert nwk.send(0x5678, b"\x00never") is False
    assert len(nib.mac.sent) == 1 and counted == ["frame_counter_exhausted"] * 2
    # the same guard on an APS link key: nothing leaves, the sender is told
    nib.counters.set_outgoing(nib.link_handle(PEER), 0xFFFFFFFF)
    done: list[bool] = []
    aps.send_data(0x5678, 1, 1, 0x0702, b"x", on_done=done.append)
    assert done == [False] and len(nib.mac.sent) == 1
    # a new network key (next sequence number) restores service with fresh counters
    nib.set_network_key(NEW_KEY, 1)
    assert nwk.send(0x5678, b"\x00again") is True
    frame, aux = unsecure_nwk(nib.mac.sent[-1], NEW_KEY)
    assert (aux.frame_counter, aux.key_seq) == (0, 1)


def test_incoming_counters_are_per_key_sequence():
    """A frame under the next network key sequence number is judged by that key's counters."""
    nib, nwk, aps, _ = _node()
    assert nib.counters.check_incoming(PEER, nib.network_handle(0), 1000)
    assert nib.counters.check_incoming(PEER, nib.network_handle(1), 0)
    assert not nib.counters.check_incoming(PEER, nib.network_handle(0), 999)


def test_rejoin_with_restarted_counters_is_accepted(tmp_path: Path) -> None:
    """The IHD powers off and on (a new stack: every frame counter starts at 0 again) and joins
    again; the trust centre forgets its old incoming counters at the association, so the
    Device_annce and what follows are accepted instead of being dropped as replays."""
    def setup(estate, clock) -> None:
        def power_cycle() -> None:
            ihd = estate.homes[0].nodes["ihd"]
            ihd.port.detach()
            ihd.power_on()
        clock.callLater(600.0, power_cycle)

    estate = run_estate(tmp_path, topology_text(), seed=5, duration=700, pcap=False, before_run=setup)
    nodes = estate.homes[0].nodes
    ch, ihd = nodes["ch"], nodes["ihd"]
    assert ihd.stack.joined and ihd.joined_at > estate.start_time + 600
    assert ch.joins == {"joined": 4}, ch.joins  # ESME, GSME, IHD, and the IHD once more
    assert ch.counts["nwk_replay"] == 0 and ch.counts["aps_replay"] == 0
