"""GBT blocks: GBCS messages larger than one GB-HRGP tunnel command (the RTDS CS02b commands to
the ESME are 1,785-3,986 octets) cross the CHF queue and the HAN in blocks and arrive whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emulator.clock import VirtualClock
from protocols.errors import CodecError
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.framing import CRA_RESPONSE, decode_frame
from protocols.gbcs.keystore import KeyStore
from protocols.hrgp.chf import ChfRouter
from protocols.hrgp.codec import MAX_GBCS_MESSAGE, Put, decode_hrgp, encode_hrgp
from protocols.hrgp.gbt import GbtBlock, Reassembler, decode_block, encode_block, split_message
from tests.gbcs_helpers import KEYSTORE, RTDS
from tests.han_helpers import run_estate, topology_text, tshark_fields

pytestmark = pytest.mark.skipif(not RTDS.is_dir() and not os.environ.get("CI"),
                                reason="shared RTDS data not present")

ESME = 0x00DB1234567890A0
BIGGEST = RTDS / "NA_CS02bAnyExceptAbnormalRootByRecovery" / \
    "CS02bAnyExceptAbnormalRootByRecovery_NA_SUCCESS_COMMAND_GBCS.HEX"
CS02B = RTDS / "6.15.1_CS02bSupplierBySupplier" / "CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"


def rtds(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip())


def test_blocks_fit_a_tunnel_command_and_reassemble() -> None:
    message = rtds(BIGGEST)
    assert len(message) == 3986
    blocks = split_message(message, MAX_GBCS_MESSAGE)
    assert len(blocks) == 3 and all(len(b) <= MAX_GBCS_MESSAGE for b in blocks)
    assert [decode_block(b).number for b in blocks] == [1, 2, 3]
    assert [decode_block(b).last for b in blocks] == [False, False, True]
    r = Reassembler()
    out = [r.feed(decode_hrgp(encode_hrgp(Put(b))).message) for b in blocks]    # each is one PUT
    assert out == [None, None, message] and not r.pending


def test_block_layout() -> None:
    raw = encode_block(GbtBlock(True, 2, b"\x01\x02\x03"))
    assert raw == bytes.fromhex("E080" "0002" "0000" "03" "010203")
    assert decode_block(raw) == GbtBlock(True, 2, b"\x01\x02\x03")


@pytest.mark.parametrize("raw, field", [
    (bytes.fromhex("DD80000100000101"), "gbt.tag"),
    (bytes.fromhex("E080000000000101"), "gbt.block_number"),
    (bytes.fromhex("E08000010000050102"), "gbt.block_data"),
    (bytes.fromhex("E08000"), "gbt"),
])
def test_malformed_blocks_name_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(CodecError) as e:
        decode_block(raw)
    assert e.value.field == field


def test_a_block_out_of_sequence_drops_the_message_and_the_next_one_still_arrives() -> None:
    blocks = split_message(rtds(BIGGEST), MAX_GBCS_MESSAGE)
    r = Reassembler()
    assert r.feed(blocks[0]) is None
    with pytest.raises(CodecError):
        r.feed(blocks[2])
    assert not r.pending
    assert [r.feed(b) for b in blocks][-1] == rtds(BIGGEST)


def test_the_chf_queues_the_blocks_all_or_nothing() -> None:
    clock = VirtualClock(0.0)
    pushed, counts = [], []

    def router(limit: int) -> ChfRouter:
        r = ChfRouter(clock, 0xA2, None, deliver_local=lambda e, m: None,
                      push=lambda e, m, done: pushed.append(m) or False, to_wan=lambda m: None,
                      alert=lambda c, i: None, count=counts.append, queue_limit=limit)
        r.add_device(ESME, sleepy=False)
        return r

    r = router(32)
    assert r.from_wan(rtds(BIGGEST)) == "queued"          # no tunnel yet: every block waits
    assert r.pending(ESME) == 3
    r = router(2)
    assert r.from_wan(rtds(BIGGEST)) == "queue_full"
    assert r.pending(ESME) == 0 and counts == ["chf_queue_full"]


class Recorder:
    """A device application that records what arrives and answers with a large message."""

    def __init__(self, device, send, log: list, answer: bytes | None) -> None:
        self.device, self.send, self.log, self.answer = device, send, log, answer

    def receive(self, message: bytes) -> None:
        self.log.append((self.device.spec.name, message))
        if self.answer is not None:
            self.send(self.answer)


def test_a_large_command_and_a_large_response_cross_a_lossy_han(tmp_path: Path) -> None:
    """The 1,879-octet CS02b command is pushed to the ESME as GBT blocks over a HAN with 10%
    loss and handed whole to its application; its 2,500-octet answer goes up the same way and
    leaves the CH whole.  tshark reads every tunnel frame, none malformed."""
    command = rtds(CS02B)
    crypto = GbcsCrypto(KeyStore(KEYSTORE))
    from tests.test_tunnel_han import sized_message
    answer = sized_message(2500, CRA_RESPONSE, ESME, decode_frame(command).signing.originator, 0x00D4, crypto)
    log: list = []

    def hook(estate, clock) -> None:
        home = estate.homes[0]
        home.gbcs_application_factory = lambda device, send: Recorder(
            device, send, log, answer if device.spec.name == "esme" else None)

    text = topology_text("{loss: 0.1}")
    start, end = text.index("    gbcs_commands:"), text.index("    han:")
    text = text[:start] + f"    gbcs_commands:\n      - {{at: 120, hex: {command.hex()}}}\n" + text[end:]
    estate = run_estate(tmp_path, text, seed=11, duration=400, before_run=hook)
    ch = estate.homes[0].nodes["ch"]
    assert log == [("esme", command)]
    assert list(ch.chf_tunnel.wan_messages) == [answer]
    assert estate.errors == 0
    rows = tshark_fields(tmp_path, ["gbcs_tunnel.command", "_ws.malformed"], "gbcs_tunnel")
    assert sum(1 for r in rows if r[0] == "0x03") >= 4          # 2 + 2 PUTs of blocks at least
    assert not [r for r in rows if r[1]]
