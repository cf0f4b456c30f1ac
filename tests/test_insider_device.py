"""The INSIDER device kind: it joins, learns what the network key reveals, forges frames that are
correct on the air (tshark decrypts them with the exported key table), deterministically, and
keeps a ledger per attack class in the run summary and the Prometheus metrics."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from emulator.clock import VirtualClock
from emulator.devices.insider import Insider
from emulator.estate import Estate
from emulator.topology import TopologyError, parse_topology
from protocols.errors import CodecError
from protocols.ieee802154.frames import decode_mac
from protocols.zigbee import aps as _aps
from protocols.zigbee.attacks import ATTACK_CLASSES, COUNTER_PUSH_FLOOR
from protocols.zigbee.security import KEY_ID_NETWORK, unsecure_aps, unsecure_nwk
from tests.han_helpers import needs_tshark, tshark_fields

REPO = Path(__file__).resolve().parents[1]
ATTACK_HOME = (REPO / "topologies" / "attack-home.yaml").read_text()


def _text(start: float = 120, duration: float = 60, rate: float = 10, classes: list[str] | None = None,
          loss: float = 0.0) -> str:
    text = ATTACK_HOME.replace("attack_start: 1800", f"attack_start: {start}") \
        .replace("attack_duration: 5400", f"attack_duration: {duration}").replace("attack_rate: 10",
                                                                                  f"attack_rate: {rate}")
    if classes is not None:
        text = text.replace("        # attack_classes:", f"        attack_classes: [{', '.join(classes)}]\n        #", 1)
    if loss:
        text = text.replace("impairments: {}", f"impairments: {{loss: {loss}}}", 1)
    return text


def _run(text: str, until: float, seed: int = 1, tmp_path: Path | None = None, observe=None) -> Estate:
    """Run the topology; C{observe(now, psdu)} sees every frame the insider forged as it goes on the air."""
    topology = parse_topology(text, "attack.yaml", seed)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, seed, pcap_path=str(tmp_path / "han.pcapng") if tmp_path else None,
                    keys_path=str(tmp_path / "zigbee_pc_keys") if tmp_path else None)
    if observe is not None:
        insider = estate.homes[0].nodes["insider"]
        forged: set[bytes] = set()
        enqueue = insider._enqueue

        def record(pending) -> None:
            forged.add(pending.forgery.psdu)
            enqueue(pending)

        insider._enqueue = record
        estate.homes[0].medium.add_observer(
            lambda now, sender, psdu: observe(now, psdu if sender == "insider" and psdu in forged else None))
    estate.start()
    clock.run_until(topology.start_time + until)
    estate.close()
    return estate


def test_insider_joins_and_learns_the_han():
    estate = _run(_text(start=100_000), 300)
    home = estate.homes[0]
    insider = home.nodes["insider"]
    assert isinstance(insider, Insider) and insider.stack.joined and insider.key_established()
    known = {n.eui: (n.short, n.sleepy) for n in insider.knowledge.nodes()}
    truth = {node.spec.eui64: (node.stack.short, not node.rx_on_when_idle)
             for name, node in home.nodes.items() if name != "insider"}
    assert known == truth
    kb = insider.knowledge
    assert kb.frames_decrypted > 100 and kb.key_seq == home.nodes["ch"].stack.key_seq
    ihd, esme = home.nodes["ihd"].stack.short, home.nodes["esme"].stack.short
    assert any(t.src == ihd and t.dst == esme and t.cluster == 0x0702 for t in kb.talks)
    for eui, node in kb.by_eui.items():      # counters it saw are ones the sender really used
        sender = next(n for n in home.nodes.values() if n.spec.eui64 == eui)
        assert 0 <= node.counter < sender.stack.counters.outgoing(sender.stack.nib.network_handle(0))
    assert insider.frames_sent() == 0 and "forged 0 frames" in insider.summary()


def test_every_class_forges_frames_that_decrypt_under_the_network_key():
    forged: list[bytes] = []
    text = _text(start=120, duration=110)
    estate = _run(text, 240, observe=lambda now, psdu: forged.append(psdu) if psdu else None)
    home = estate.homes[0]
    insider = home.nodes["insider"]
    key = home.spec.network_key
    assert insider.frames_sent() >= 1000
    for cls in ATTACK_CLASSES:
        assert insider.ledger[cls]["sent"] >= 50, (cls, dict(insider.ledger[cls]))
    legit = {node.spec.eui64 for node in home.nodes.values()}
    claimed_legit = pushed = network_key_aps = 0
    assert len(forged) == insider.frames_sent()
    for psdu in forged:
        mac = decode_mac(psdu)                       # FCS checked
        assert mac.frame_type == 1                   # data frames
        frame, aux = unsecure_nwk(mac.payload, key)  # MIC valid under the network key
        claimed_legit += aux.source in legit and aux.source != insider.spec.eui64
        pushed += aux.frame_counter >= COUNTER_PUSH_FLOOR
        if frame.frame_type == 0 and frame.payload and frame.payload[0] & 0x20:
            try:
                _, aps_aux = unsecure_aps(frame.payload, key)
            except CodecError:
                continue                             # under a link key it does not have
            network_key_aps += aps_aux.key_id == KEY_ID_NETWORK
    assert claimed_legit > len(forged) // 2 and pushed > 0 and network_key_aps > 0


@needs_tshark
def test_tshark_decodes_the_forged_frames(tmp_path: Path):
    """Someone else's dissectors: every forged frame has a good FCS and its NWK security
    decrypts with the exported key table (APS, ZDP and NWK commands dissected); only the
    mutation class sends malformed content, so it is left out here."""
    numbers: list[int] = []
    count = [0]

    def observe(now, psdu) -> None:
        count[0] += 1
        if psdu is not None:
            numbers.append(count[0])

    classes = [c for c in ATTACK_CLASSES if c != "mutation"]
    _run(_text(start=120, duration=40, classes=classes), 170, tmp_path=tmp_path, observe=observe)
    rows = tshark_fields(tmp_path, ["frame.number", "wpan.fcs_ok", "frame.protocols", "zbee_nwk.security",
                                    "zbee_nwk.cmd.id", "zbee_aps.type"])
    by_number = {int(r[0]): r for r in rows}
    assert len(numbers) >= 350
    for n in numbers:
        _, fcs_ok, protocols, security, nwk_cmd, aps_type = by_number[n]
        assert fcs_ok == "1", n
        assert "malformed" not in protocols, (n, protocols)
        assert security == "1" and (nwk_cmd or aps_type), (n, protocols)


def test_same_seed_same_capture(tmp_path: Path):
    text = _text(start=60, duration=30)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    _run(text, 100, tmp_path=a)
    _run(text, 100, tmp_path=b)
    assert (a / "han.pcapng").read_bytes() == (b / "han.pcapng").read_bytes()
    c = tmp_path / "c"
    c.mkdir()
    _run(text, 100, seed=2, tmp_path=c)
    assert (a / "han.pcapng").read_bytes() != (c / "han.pcapng").read_bytes()


def test_ledger_in_summary_and_metrics():
    estate = _run(_text(start=120, duration=30, classes=["identity_flood", "mirror"]), 160)
    insider = estate.homes[0].nodes["insider"]
    assert set(insider.ledger) == {"identity_flood", "mirror"}
    sent = insider.ledger["identity_flood"]["sent"]
    assert 100 <= sent <= 160
    assert insider.ledger["identity_flood"]["answered"] + insider.ledger["identity_flood"]["rejected"] \
        + insider.ledger["identity_flood"]["no_effect"] + insider.ledger["identity_flood"]["state_changed"] >= sent
    registry = estate.metrics.registry
    assert registry.get_sample_value("smets_insider_frames_total",
                                     {"attack_class": "identity_flood", "outcome": "sent"}) == sent
    assert f"identity_flood {sent}" in insider.summary()
    text = estate.metrics.render().decode()
    assert 'smets_insider_frames_total{attack_class="mirror",outcome="sent"}' in text


def test_attack_window_and_rate_are_respected():
    times: list[float] = []
    estate = _run(_text(start=200, duration=50, rate=4), 400,
                  observe=lambda now, psdu: times.append(now) if psdu else None)
    t0 = estate.topology.start_time
    insider_frames = [t - t0 for t in times]
    forged = estate.homes[0].nodes["insider"].frames_sent()
    assert 150 <= forged <= 200
    assert len(insider_frames) == forged and all(200 <= t < 251 for t in insider_frames), insider_frames[:3]


@pytest.mark.parametrize("option, message", [
    ("attack_classes: [nwk_command, teleport]", "'teleport' is not an attack class"),
    ("attack_classes: [zdo, zdo]", "names a class twice"),
    ("attack_classes: []", "must name at least one class"),
    ("attack_rate: 0", "attack_rate must be positive"),
    ("attack_rate: 5000", "at most 1000"),
    ("attack_start: -1", "attack_start must be >= 0"),
    ("attack_duration: -5", "attack_duration must be positive"),
    ("attack_rate: fast", "attack_rate must be int or float"),
])
def test_topology_mistakes_name_the_option(option: str, message: str):
    key = option.split(":")[0]
    lines = [line for line in ATTACK_HOME.splitlines() if not line.strip().startswith(key)]
    idx = next(i for i, line in enumerate(lines) if "name: insider" in line)
    lines.insert(idx + 1, f"        {option}")
    with pytest.raises(TopologyError) as e:
        parse_topology("\n".join(lines) + "\n", "attack.yaml", 1)
    assert message in str(e.value)
    assert str(e.value).startswith(f"attack.yaml:{idx + 2}:"), str(e.value)


def test_forger_unit():
    """Sans-IO: the knowledge learns from PSDUs, the forger claims who it is told to."""
    from protocols.ieee802154.frames import encode_data_frame
    from protocols.zigbee import nwk as _nwk
    from protocols.zigbee.attacks import Forger, HanKnowledge
    from protocols.zigbee.security import secure_nwk

    key = bytes(range(16))
    kb = HanKnowledge(lambda seq: key if seq == 3 else None, lambda: 0x0077, lambda: 0x1AAA)
    # a real frame from 0x1234 / 0x00DB0000000000A0 to the hub, counter 41, with an APS frame asking for an ack
    aps = _aps.encode_aps(_aps.ApsFrame(_aps.APS_FRAME_DATA, counter=9, dst_endpoint=1, cluster=0x0702,
                                        profile=0x0109, src_endpoint=1, payload=b"\x00\x01\x00\x00\x00",
                                        ack_request=True))
    nwk = secure_nwk(_nwk.NwkFrame(0x0000, 0x1234, 5, aps, src_ieee=0x00DB0000000000A0), key, 41,
                     0x00DB0000000000A0, 3)
    hub = secure_nwk(_nwk.NwkFrame(0xFFFC, 0x0000, 6, _nwk.encode_nwk_command(_nwk.LinkStatus(())),
                                   _nwk.NWK_FRAME_COMMAND, radius=1, src_ieee=0x00DB0000000000A2),
                     key, 7, 0x00DB0000000000A2, 3)
    kb.observe(encode_data_frame(2, 0x1AAA, 0xFFFF, 0x0000, hub), 9.0)
    kb.observe(encode_data_frame(1, 0x1AAA, 0x0000, 0x1234, nwk), 10.0)
    kb.observe(b"\x00garbage", 10.5)            # never raises
    assert [(n.short, n.eui, n.counter) for n in kb.nodes()] == [(0x0000, 0x00DB0000000000A2, 7),
                                                                  (0x1234, 0x00DB0000000000A0, 41)]
    assert kb.key_seq == 3 and kb.in_flight[-1].kind == "aps" and kb.in_flight[-1].tsn_or_counter == 9
    f = Forger(kb, lambda: (key, 3), lambda: 0x0077, 0x00DB0000000000FF, random.Random(5))
    forgery = f.nwk(dst=0x0000, src=0x1234, src_eui=0x00DB0000000000A0, payload=b"\x08\x00")
    mac = decode_mac(forgery.psdu)
    frame, aux = unsecure_nwk(mac.payload, key)
    assert (mac.src_addr, frame.src, aux.source, aux.key_seq) == (0x1234, 0x1234, 0x00DB0000000000A0, 3)
    assert 41 < aux.frame_counter <= 44
    assert f.counter_for(0x00DB0000000000A0, push=True) >= COUNTER_PUSH_FLOOR
    short, eui = f.fresh_identity()
    assert short not in (0x1234, 0x0077) and eui != 0x00DB0000000000A0
    # a forged ack of the frame just heard: same APS counter, from the peer it asked
    ack = ATTACK_CLASSES["forged_response"](kb, f, random.Random(1), 10.6)
    frame, _ = unsecure_nwk(decode_mac(ack.psdu).payload, key)
    head = _aps.decode_aps(frame.payload)
    assert ack.what == "forged APS ack"
    assert (frame.src, frame.dst, head.frame_type, head.counter, head.security) == (0x0000, 0x1234, 2, 9, False)
    assert (head.cluster, head.dst_endpoint, head.src_endpoint) == (0x0702, 1, 1)


def test_twistd_runs_the_attack_home(tmp_path: Path):
    """The shipped topology as a user runs it: the insider's ledger is in the summary, exit 0."""
    from tests.cli_helpers import TOPOLOGIES, TWISTD, run

    topology = tmp_path / "attack.yaml"
    topology.write_text((TOPOLOGIES / "attack-home.yaml").read_text().replace("attack_start: 1800",
                                                                             "attack_start: 240"))
    proc = run([*TWISTD, "-n", "--pidfile=", "smets", "--topology", str(topology), "--virtual", "--duration",
                "300"], cwd=tmp_path, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in output, output[-3000:]
    line = next(line for line in output.splitlines() if "smets: home-0001: insider (INSIDER 00DB1234567890AF)" in line)
    forged = int(re.search(r"forged (\d+) frames", line).group(1))
    assert 500 <= forged <= 600, line
    for cls in ATTACK_CLASSES:
        assert re.search(rf"; {cls} \d+", line), (cls, line)
