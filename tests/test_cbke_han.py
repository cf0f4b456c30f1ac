"""CBKE on the air: every SMETS2 device runs key establishment with the CH after its
install-code join, and application traffic then goes under the CBKE-derived link key.

Judged by tshark (Wireshark's ZigBee, ZCL Key Establishment and ZigBee security dissectors)
with the key file the emulator exports; the CBKE-derived keys must be in it, and the frames
secured with them must not decrypt without them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from emulator.devices.cbke import RETRY_FIRST, RETRY_GROWTH, RETRY_JITTER, CertificateAuthorities
from emulator.topology import TopologyError, parse_topology
from tests.han_helpers import SINGLE_HOME, needs_tshark, run_estate, topology_text, tshark_fields

DURATION = 7200
JOINERS = ("esme", "gsme", "ihd")
#: Key Establishment command ids (ZSE C.3.1.2): 0 Initiate, 1 EphemeralData, 2 ConfirmKeyData
KE_SEQUENCE = [("rx", "0x00"), ("tx", "0x00"), ("rx", "0x01"), ("tx", "0x01"), ("rx", "0x02"), ("tx", "0x02")]
UNKNOWN_ISSUER = "0x01"


def _twistd(tmp: Path, name: str, seed: int, duration: int = DURATION, topology: Path = SINGLE_HOME) -> str:
    proc = subprocess.run(
        ["twistd", "-n", "--pidfile=", "smets", "--topology", str(topology), "--virtual", "--duration",
         str(duration), "--seed", str(seed), "--pcap", str(tmp / f"{name}.pcapng"), "--keys",
         str(tmp / f"{name}.keys")],
        capture_output=True, text=True, cwd=tmp, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    """The README's default run (single home, 2 h, seed 1) through twistd."""
    tmp = tmp_path_factory.mktemp("cbke-default")
    (tmp / "log").write_text(_twistd(tmp, "a", seed=1))
    return tmp


def _fields(tmp: Path, fields: list[str], display_filter: str | None = None, keys: Path | None = None):
    return tshark_fields(tmp, fields, display_filter, pcap=tmp / "a.pcapng", keys=keys or tmp / "a.keys")


def _devices(tmp: Path) -> dict[str, tuple[str, str]]:
    """name -> (EUI-64 as tshark prints it, short address) from the Device_annce frames."""
    euis = {spec.name: spec.eui64 for spec in parse_topology(SINGLE_HOME.read_text(), "t", 1).homes[0].devices}
    rows = _fields(tmp, ["zbee_zdp.ext_addr", "zbee_zdp.nwk_addr"], "zbee_aps.zdp_cluster == 0x0013")
    by_eui = {int(r[0].replace(":", ""), 16): r[1] for r in rows}
    return {name: (f"{euis[name]:016x}", by_eui[euis[name]]) for name in JOINERS}


@needs_tshark
def test_each_joiner_associates_gets_the_key_announces_then_runs_cbke(default_run: Path) -> None:
    """Per device, in this order: Association Request, Transport Key (network key),
    Device_annce, the six Key Establishment commands without a Terminate; the certificates
    name the device and the CH, issued by one CA."""
    tmp = default_run
    devices = _devices(tmp)
    rows = _fields(tmp, ["frame.number", "wpan.src64", "wpan.cmd", "zbee_nwk.src", "zbee_nwk.dst",
                         "zbee_aps.cmd.id", "zbee_aps.cmd.key_type", "zbee_aps.zdp_cluster",
                         "zbee_zcl_se.ke.cmd.srv_rx.id", "zbee_zcl_se.ke.cmd.srv_tx.id",
                         "zbee_zcl_se.ke.cert.subject", "zbee_zcl_se.ke.cert.issuer", "zbee_aps.dst"])
    assert rows
    issuers = set()
    for name, (eui, short) in devices.items():
        eui_colons = ":".join(eui[i:i + 2] for i in range(0, 16, 2))
        assoc = next(int(r[0]) for r in rows if r[1] == eui_colons and r[2] == "0x01")
        key = next(int(r[0]) for r in rows if r[4] == short and r[5] == "0x05" and r[6] == "0x01")
        annce = next(int(r[0]) for r in rows if r[3] == short and r[7] == "0x0013")
        ke = [(int(r[0]), "rx" if r[8] else "tx", r[8] or r[9], r[10], r[11]) for r in rows
              if (r[8] and r[3] == short) or (r[9] and r[4] == short)]
        assert [(d, c) for _, d, c, _, _ in ke] == KE_SEQUENCE, (name, ke)
        assert assoc < key < annce < ke[0][0], name
        # the device's certificate names it, the CH's names the CH; both from one issuer
        assert ke[0][3] == eui and ke[1][3] == "00db1234567890a2", (name, ke[:2])
        issuers |= {ke[0][4], ke[1][4]}
    assert len(issuers) == 1
    assert not _fields(tmp, ["frame.number"], "zbee_zcl_se.ke.terminate.status"), "no Terminate Key Establishment"


@needs_tshark
def test_application_traffic_only_after_cbke_and_under_the_cbke_key(default_run: Path) -> None:
    """No Smart Energy application frame leaves a device before its ConfirmKeyDataResponse;
    every APS-secured frame between a device and the CH after it decrypts with the device's
    CBKE link key (tshark names the key) and no longer with a key file lacking the CBKE keys."""
    tmp = default_run
    devices = _devices(tmp)
    fields = ["frame.number", "zbee_nwk.src", "zbee_nwk.dst", "zbee_aps.type", "zbee_aps.profile",
              "zbee_aps.cluster", "zbee_aps.security", "zbee.sec.decryption_key", "frame.protocols",
              "zbee_zcl_se.ke.cmd.srv_tx.id", "zbee_aps.fragmentation"]
    rows = _fields(tmp, fields, "zbee_aps")
    full = (tmp / "a.keys").read_text()
    assert all(f'"home-0001 {name} CBKE link key"' in full for name in JOINERS)
    partial = tmp / "no-cbke.keys"
    partial.write_text("".join(line + "\n" for line in full.splitlines() if "CBKE" not in line))
    without = {r[0]: r for r in _fields(tmp, fields, "zbee_aps", keys=partial)}
    for name, (eui, short) in devices.items():
        confirmed = next(int(r[0]) for r in rows if r[2] == short and r[9] == "0x02")
        app = [r for r in rows if r[1] == short and r[3] == "0x00" and r[4] == "0x0109" and r[5] != "0x0800"]
        assert app, name
        assert min(int(r[0]) for r in app) > confirmed, f"{name} sent application data before CBKE ended"
        tc = [r for r in rows if int(r[0]) > confirmed and r[6] == "1" and r[3] == "0x00"
              and {r[1], r[2]} == {short, "0x0000"}]
        assert tc, name
        for r in tc:
            assert r[7] == f"home-0001 {name} CBKE link key", (name, r)
            if r[10] not in ("", "0x00", "0"):
                # an APS fragment (a large GBCS TransferData, a PublishPrice): decrypted block by
                # block, dissected as ZCL only once tshark has reassembled the whole ASDU
                assert not without[r[0]][7], f"{name} fragment {r[0]} decrypts without the CBKE key"
                continue
            assert "zbee_zcl" in r[8], (name, r)
            assert "zbee_zcl" not in without[r[0]][8], f"{name} frame {r[0]} decrypts without the CBKE key"
    # the install-code keys still decrypt the joins (Transport Key of the network key)
    assert any("install-code" in r[7] for r in without.values())


@needs_tshark
def test_default_run_has_no_malformed_frame_and_request_key_rides_the_cbke_key(default_run: Path) -> None:
    tmp = default_run
    assert not _fields(tmp, ["frame.number"], "_ws.malformed || _ws.expert.severity == error")
    # the application link key (IHD <-> ESME) comes in Transport Keys under the CBKE TC link keys
    labels = {r[0] for r in _fields(tmp, ["zbee.sec.decryption_key"],
                                    "zbee_aps.cmd.id == 0x05 && zbee_aps.cmd.key_type == 0x03")}
    assert labels == {"home-0001 esme CBKE link key", "home-0001 ihd CBKE link key"}
    log = (tmp / "log").read_text()
    assert "CBKE {'established': 1, 'started': 1}" in log
    assert "CBKE {'established': 3, 'started': 3}" in log


def test_same_seed_same_capture(tmp_path: Path) -> None:
    """CBKE adds randomness (ephemeral keys, certificates): all of it seeded."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = run_estate(tmp_path / "a", topology_text(), 5, 120)
    b = run_estate(tmp_path / "b", topology_text(), 5, 120)
    first = (tmp_path / "a" / "han.pcapng").read_bytes()
    assert first == (tmp_path / "b" / "han.pcapng").read_bytes()
    assert (tmp_path / "a" / "zigbee_pc_keys").read_text() == (tmp_path / "b" / "zigbee_pc_keys").read_text()
    assert "CBKE link key" in (tmp_path / "a" / "zigbee_pc_keys").read_text()
    assert a.errors == b.errors == 0


@needs_tshark
def test_certificate_from_another_ca_is_terminated_and_retried_with_backoff(tmp_path: Path) -> None:
    """An ESME whose certificate another CA issued: the CH answers Terminate(UNKNOWN_ISSUER),
    the ESME sends no application traffic, retries with growing seeded backoff; nothing
    crashes and the other devices go on."""
    estate = run_estate(tmp_path, topology_text(esme="cbke_ca: rogue"), 3, 600)
    assert estate.errors == 0
    home = estate.homes[0]
    esme, ch, ihd = home.nodes["esme"], home.nodes["ch"], home.nodes["ihd"]
    short = f"0x{esme.stack.short:04x}"
    rows = tshark_fields(tmp_path, ["frame.number", "frame.time_relative", "zbee_nwk.src", "zbee_nwk.dst",
                                    "zbee_zcl_se.ke.cmd.srv_rx.id", "zbee_zcl_se.ke.cmd.srv_tx.id",
                                    "zbee_zcl_se.ke.terminate.status", "zbee_aps.profile", "zbee_aps.cluster",
                                    "zbee_aps.type", "_ws.malformed", "zbee_aps.counter"], "zbee_aps")
    assert not [r for r in rows if r[10]]

    def once(frames):  # a MAC or APS retransmission (same APS counter, within seconds) counts once
        kept: list = []
        for r in frames:
            if not kept or r[11] != kept[-1][11] or float(r[1]) - float(kept[-1][1]) > 10.0:
                kept.append(r)
        return kept

    initiates = [float(r[1]) for r in once(r for r in rows if r[2] == short and r[4] == "0x00")]
    terminates = once(r for r in rows if r[3] == short and r[5] == "0x03")
    assert len(initiates) >= 4 and len(terminates) == len(initiates)
    assert {r[6] for r in terminates} == {UNKNOWN_ISSUER}
    assert not [r for r in rows if r[2] == short and r[4] in ("0x01", "0x02")], "no exchange past the certificate"
    gaps = [b - a for a, b in zip(initiates, initiates[1:])]
    for k, gap in enumerate(gaps):
        base = RETRY_FIRST * RETRY_GROWTH ** k
        assert base * (1 - RETRY_JITTER) <= gap <= base * (1 + RETRY_JITTER) + 1.0, (k, gaps)
    assert gaps == sorted(gaps)
    app = [r for r in rows if r[2] == short and r[9] == "0x00" and r[7] == "0x0109" and r[8] != "0x0800"]
    assert app == [], "the ESME stays off application traffic"
    # the IHD's Request Key for the ESME is refused: no application link key for it
    assert ch.counts["request_key_before_cbke"] >= 1
    app_keys = tshark_fields(tmp_path, ["zbee_nwk.dst"], "zbee_aps.cmd.id == 0x05 && zbee_aps.cmd.key_type == 0x03")
    assert short not in {r[0] for r in app_keys}
    assert esme.cbke_counts["UNKNOWN_ISSUER"] == len(initiates) and esme.cbke_counts["established"] == 0
    assert ch.cbke_counts["UNKNOWN_ISSUER"] == len(initiates)
    assert "CBKE {" in esme.summary() and "UNKNOWN_ISSUER" in esme.summary()
    assert estate.metrics.key_establishments.labels("ESME", "UNKNOWN_ISSUER")._value.get() == len(initiates)
    # the IHD and the GSME established theirs and work
    assert ihd.cbke_counts["established"] == 1 and home.nodes["gsme"].cbke_counts["established"] == 1
    # another seed: other jitter
    other = run_estate(tmp_path, topology_text(esme="cbke_ca: rogue"), 4, 600, pcap=False)
    assert other.errors == 0 and other.homes[0].nodes["esme"].cbke_counts["UNKNOWN_ISSUER"] >= 4


def test_device_without_cbke_keeps_the_install_code_key(tmp_path: Path) -> None:
    estate = run_estate(tmp_path, topology_text(esme="cbke: false"), 2, 300, pcap=False)
    home = estate.homes[0]
    esme = home.nodes["esme"]
    assert not esme.cbke_counts and esme.reads_served > 0
    assert esme.stack.link_keys[esme.stack.tc_eui] == esme.install_code_link_key()
    assert home.nodes["ihd"].cbke_counts["established"] == 1


def test_secured_rejoin_keeps_the_cbke_key(tmp_path: Path) -> None:
    """A secured rejoin (the device still holds the network key) does not run CBKE again: the
    TC link key stays the CBKE one and the IHD's reads of the ESME go on."""
    estate = run_estate(tmp_path, topology_text(esme="rejoin_at: [100]"), 2, 300, pcap=False)
    home = estate.homes[0]
    esme, ch = home.nodes["esme"], home.nodes["ch"]
    assert ch.counts["rejoin"] == 1
    assert dict(esme.cbke_counts) == {"started": 1, "established": 1}
    key = esme.stack.link_keys[esme.stack.tc_eui]
    assert key != esme.install_code_link_key() and ch.stack.link_keys[esme.spec.eui64] == key
    assert esme.reads_served > 20 and estate.errors == 0


def test_explicit_certificate_and_key(tmp_path: Path) -> None:
    """A certificate and key given in the topology are used as they are."""
    topology = parse_topology(topology_text(), "t", 2)
    home = topology.homes[0]
    esme = next(d for d in home.devices if d.name == "esme")
    credentials = CertificateAuthorities(2).credentials_for(home, esme)
    text = topology_text(esme=f'cbke_certificate: "{credentials.certificate.to_bytes().hex()}"\n'
                              f'cbke_private_key: "{credentials.private_key:072x}"')
    estate = run_estate(tmp_path, text, 2, 120, pcap=False)
    assert estate.homes[0].nodes["esme"].cbke_counts["established"] == 1
    # the same certificate with another private key: the MACs cannot match
    text = topology_text(esme=f'cbke_certificate: "{credentials.certificate.to_bytes().hex()}"\n'
                              f'cbke_private_key: "{credentials.private_key ^ 1:072x}"')
    estate = run_estate(tmp_path, text, 2, 120, pcap=False)
    counts = estate.homes[0].nodes["esme"].cbke_counts
    assert counts["established"] == 0 and counts["BAD_KEY_CONFIRM"] >= 1 and estate.errors == 0


def test_key_establishment_suite_attribute(tmp_path: Path) -> None:
    """Both sides serve KeyEstablishmentSuite (0x0000): suite 2 (sect283k1)."""
    from protocols.zcl import foundation as zf
    from protocols.zcl.frame import DIRECTION_CLIENT_TO_SERVER, DIRECTION_SERVER_TO_CLIENT, decode_zcl, encode_zcl

    estate = run_estate(tmp_path, topology_text(), 2, 30, pcap=False)
    for name, direction in (("ch", DIRECTION_CLIENT_TO_SERVER), ("esme", DIRECTION_SERVER_TO_CLIENT)):
        node = estate.homes[0].nodes[name]
        server = node.servers[(1, 0x0800)]
        request = zf.global_frame(zf.ReadAttributes((0x0000,)), 7, direction)
        response = decode_zcl(encode_zcl(server.handle(request)))
        records = zf.ReadAttributesResponse.decode(response.payload).records
        assert [(r.status, r.value) for r in records] == [(0, 2)], name


def test_ch_answers_only_devices_in_its_device_log(tmp_path: Path) -> None:
    from protocols.zigbee.cbke.messages import InitiateKeyEstablishmentRequest, zcl_frame
    from protocols.zigbee.stack import ApsIndication

    estate = run_estate(tmp_path, topology_text(), 2, 30, pcap=False)
    ch = estate.homes[0].nodes["ch"]
    frame = zcl_frame(InitiateKeyEstablishmentRequest(2, 10, 10, bytes(74)), 1)
    fields = dict.fromkeys(ApsIndication.__dataclass_fields__, 0)
    fields.update(src_short=0x4444, src_eui=0x1122334455667788, src_endpoint=1, dst_endpoint=1, cluster=0x0800,
                  profile=0x0109, payload=b"", aps_secured=False, broadcast=False)
    before = dict(ch.cbke_counts)
    ch.key_establishment_frame(ApsIndication(**fields), frame)
    assert ch.counts["cbke_not_in_device_log"] == 1 and dict(ch.cbke_counts) == before


@pytest.mark.parametrize("extra, message", [
    ("cbke_ca: 'a b'", "esme.cbke_ca 'a b' must be"),
    ("cbke_certificate: '00'", "needs cbke_private_key too"),
    ("cbke_certificate: '00'\ncbke_private_key: '01'", "cbke_certificate must be 74 bytes of hex"),
    ("cbke_certificate: '" + "00" * 74 + "'\ncbke_private_key: '01'", "cbke_private_key must be 36 bytes"),
    ("cbke: false\ncbke_ca: other", "cbke is false but CBKE credentials are given"),
    ("cbke: 1", "cbke must be bool"),
])
def test_cbke_topology_errors_name_file_and_line(extra: str, message: str) -> None:
    text = topology_text(esme=extra)
    with pytest.raises(TopologyError) as info:
        parse_topology(text, "home.yaml", 1)
    assert message.replace("esme.", "") in str(info.value)
    line = info.value.line
    assert str(info.value).startswith(f"home.yaml:{line}: ") and "cbke" in text.splitlines()[line - 1]
