"""APS fragmentation (sans-IO): block split per 2.2.8.4.5, reassembly in any order with
duplicates and timeouts, window acks; a lossy sender/receiver loop.  tshark's own
reassembly of our blocks is checked in test_zigbee_tshark.py."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import CodecError
from protocols.zigbee import aps
from protocols.zigbee.aps import ApsFrame, decode_aps, encode_aps
from protocols.zigbee.fragmentation import (
    BlockAck,
    FragmentSender,
    Reassembler,
    fragment_frames,
    split_asdu,
    window_ack_bitfield,
)

TEMPLATE = ApsFrame(counter=7, dst_endpoint=1, cluster=0x0704, profile=0x0109, src_endpoint=1, ack_request=True)


def test_split_and_frames():
    asdu = bytes(range(100))
    assert split_asdu(asdu, 40) == [asdu[:40], asdu[40:80], asdu[80:]]
    frames = fragment_frames(TEMPLATE, asdu, 40)
    assert [(f.fragmentation, f.block_number) for f in frames] == [(1, 3), (2, 1), (2, 2)]
    assert all(f.counter == 7 and f.cluster == 0x0704 for f in frames)
    # on-air: extended header bit 0x80, ext fc, block number (2.2.5.1.8)
    assert encode_aps(frames[0])[8:10] == b"\x01\x03"
    assert encode_aps(frames[2])[8:10] == b"\x02\x02"
    assert fragment_frames(TEMPLATE, b"short", 40)[0].fragmentation == 0
    with pytest.raises(CodecError):
        split_asdu(bytes(256 * 2), 2)


def test_reassemble_any_order_with_duplicates():
    asdu = bytes(range(200))
    frames = fragment_frames(TEMPLATE, asdu, 30)
    order = list(reversed(frames)) + [frames[3]]
    r = Reassembler(timeout=10)
    results = [r.accept((0x4B2A, 7), f.fragmentation, f.block_number, f.payload, now=0.0)
               for f in order[:-1]]
    assert results[-1].status == "complete" and results[-1].payload == asdu
    assert all(x.status == "accepted" for x in results[:-1])
    assert len(r) == 0
    # a duplicate after completion is re-acked, never delivered a second time
    late = r.accept((0x4B2A, 7), frames[3].fragmentation, frames[3].block_number, frames[3].payload, 1.0)
    assert late.status == "duplicate" and late.payload is None and late.ack == BlockAck(3, 0xFF)
    r.expire(now=20.0)
    again = r.accept((0x4B2A, 7), frames[3].fragmentation, frames[3].block_number, frames[3].payload, 20.0)
    assert again.status == "accepted"


def test_duplicate_block_reported():
    frames = fragment_frames(TEMPLATE, bytes(90), 30)
    r = Reassembler(timeout=10)
    r.accept("k", 1, frames[0].block_number, frames[0].payload, 0)
    res = r.accept("k", 1, frames[0].block_number, frames[0].payload, 0)
    assert res.status == "duplicate"
    assert res.ack == BlockAck(0, 0xFF)  # window size 1: block 0 acked again


def test_timeout_drops_transfer():
    frames = fragment_frames(TEMPLATE, bytes(90), 30)
    r = Reassembler(timeout=5)
    r.accept("k", 1, 3, frames[0].payload, now=100.0)
    r.accept("k", 2, 1, frames[1].payload, now=104.0)
    assert r.expire(now=108.0) == []          # deadline moves with each block
    assert r.expire(now=109.5) == ["k"]
    res = r.accept("k", 2, 2, frames[2].payload, now=110.0)
    assert res.status == "accepted" and len(r) == 1  # the old blocks are gone


def test_stale_transfer_replaced_on_accept():
    r = Reassembler(timeout=1)
    r.accept("k", 1, 2, b"a", now=0)
    res = r.accept("k", 2, 1, b"b", now=5)
    assert res.status == "accepted" and res.payload is None


def test_window_acks():
    # window size 3, 7 blocks: windows [0,1,2] [3,4,5] [6]
    asdu = bytes(range(70))
    frames = fragment_frames(TEMPLATE, asdu, 10)
    r = Reassembler(timeout=10, window_size=3)
    acks = []
    for f in frames:
        res = r.accept("k", f.fragmentation, f.block_number, f.payload, 0)
        acks.append(res.ack)
    assert acks == [None, None, BlockAck(0, 0xFF), None, None, BlockAck(3, 0xFF), BlockAck(6, 0xFF)]
    assert res.status == "complete" and res.payload == asdu
    assert BlockAck(0, 0xFF).fragmentation == aps.APS_FRAGMENTATION_FIRST
    assert BlockAck(3, 0xFF).fragmentation == aps.APS_FRAGMENTATION_SUBSEQUENT


def test_partial_ack_bitfield():
    r = Reassembler(timeout=10, window_size=4)
    r.accept("k", 1, 10, b"a", 0)
    r.accept("k", 2, 2, b"c", 0)
    # blocks 0 and 2 of window [0..3]: bits 0, 2 and the 4 bits beyond the window
    assert r.ack_for("k") == BlockAck(0, 0b11110101)
    assert window_ack_bitfield({8, 9}, 8, 4, 10) == 0xFF  # last window: beyond-total bits set


def test_rejections_do_not_raise():
    r = Reassembler(timeout=10)
    assert r.accept("k", 0, 0, b"", 0).status == "rejected"
    assert r.accept("k", 1, 0, b"", 0).status == "rejected"
    assert r.accept("k", 2, 0, b"", 0).status == "rejected"
    r.accept("k", 1, 2, b"a", 0)
    assert r.accept("k", 2, 5, b"x", 0).status == "rejected"
    assert r.accept("k", 1, 3, b"a", 0).status == "rejected"


@pytest.mark.parametrize("window", [1, 3, 8])
def test_lossy_transfer_loop(window):
    rng = random.Random(window)
    asdu = bytes(rng.randrange(256) for _ in range(1500))
    frames = fragment_frames(TEMPLATE, asdu, 82)
    sender = FragmentSender(len(frames), window)
    r = Reassembler(timeout=60, window_size=window)
    delivered = None
    t = 0.0
    for _ in range(1000):
        if sender.done:
            break
        t += 0.1
        got_ack = None
        for b in sender.window():
            if rng.random() < 0.3:
                continue  # block lost
            # frames go through the real codec on the way
            f = decode_aps(encode_aps(frames[b]))
            res = r.accept(("src", f.counter), f.fragmentation, f.block_number, f.payload, t)
            if res.payload is not None:
                delivered = res.payload
            if res.ack is not None and rng.random() >= 0.3:
                got_ack = res.ack
        if got_ack is None:
            partial = r.ack_for(("src", 7))
            got_ack = partial if partial is not None and rng.random() >= 0.3 else None
        if got_ack is not None:
            sender.on_ack(got_ack.block_number, got_ack.ack_bitfield)
    assert sender.done
    assert delivered == asdu


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.integers(1, 100), st.randoms(use_true_random=False))
def test_reassembly_property(asdu, block, rnd):
    try:
        frames = fragment_frames(TEMPLATE, asdu, block)
    except CodecError:
        return
    if len(frames) == 1:
        return
    order = frames[:] + rnd.sample(frames, k=min(3, len(frames)))
    rnd.shuffle(order)
    r = Reassembler(timeout=1)
    out = [r.accept("k", f.fragmentation, f.block_number, f.payload, 0).payload for f in order]
    assert [p for p in out if p is not None][0] == asdu
