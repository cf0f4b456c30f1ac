"""The NWK/APS layers of a node (protocols.zigbee.stack) inside a running home: fragmentation
over a lossy radio, replay protection, and APS security between devices."""

from __future__ import annotations

from pathlib import Path

from protocols.zigbee.zdo import SimpleDescriptor
from tests.han_helpers import run_estate, topology_text

TEST_EP = 0x20
TEST_CLUSTER = 0xFC00


def _test_endpoints(estate, received: list) -> None:
    nodes = estate.homes[0].nodes
    for name in ("ihd", "esme"):
        nodes[name].stack.add_endpoint(SimpleDescriptor(TEST_EP, 0x0109, 0xFFF0, 0, (TEST_CLUSTER,), ()),
                                       lambda ind, name=name: received.append((name, ind)))


def test_fragmented_asdu_over_lossy_han(tmp_path: Path) -> None:
    """A 600-byte ASDU crosses a 10 %-loss HAN in APS fragments, acked per block, intact and once."""
    payload = bytes(range(256)) * 2 + bytes(88)
    received: list = []
    outcome: list = []

    def setup(estate, clock) -> None:
        def go() -> None:
            _test_endpoints(estate, received)
            nodes = estate.homes[0].nodes
            esme_short = nodes["esme"].stack.short
            nodes["ihd"].stack.send_data(esme_short, TEST_EP, TEST_EP, TEST_CLUSTER, payload,
                                         on_done=outcome.append)
        clock.callLater(120.0, go)

    estate = run_estate(tmp_path, topology_text("{loss: 0.1}"), seed=11, duration=300, pcap=False,
                        before_run=setup)
    assert outcome == [True]
    assert [(n, i.payload) for n, i in received] == [("esme", payload)]
    assert received[0][1].aps_secured, "data between IHD and ESME uses their application link key"
    assert estate.homes[0].nodes["ihd"].counts["tx"] > 11  # at least one frame per block


def test_replayed_frame_is_dropped(tmp_path: Path) -> None:
    """A NWK-secured frame heard once and put on the air again is rejected by its frame counter."""
    received: list = []
    heard: list[bytes] = []

    def setup(estate, clock) -> None:
        medium = estate.homes[0].medium
        original = medium._transmit

        def tap(sender, port, psdu):
            if sender == "ihd" and len(psdu) > 60 and not heard and clock.seconds() >= estate.start_time + 150:
                heard.append(psdu)
            return original(sender, port, psdu)

        medium._transmit = tap

        def go() -> None:
            _test_endpoints(estate, received)
            nodes = estate.homes[0].nodes
            nodes["ihd"].stack.send_data(nodes["esme"].stack.short, TEST_EP, TEST_EP, TEST_CLUSTER, b"once")

        clock.callLater(150.0, go)
        clock.callLater(200.0, lambda: [medium.inject(p) for p in heard])

    estate = run_estate(tmp_path, topology_text(), seed=12, duration=260, pcap=False, before_run=setup)
    assert heard
    nodes = estate.homes[0].nodes.values()
    assert sum(n.counts["nwk_replay"] for n in nodes) >= 1
    assert [i.payload for _, i in received].count(b"once") == 1
