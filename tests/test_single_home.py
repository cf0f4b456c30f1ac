"""One dual-fuel home on the emulated HAN, judged by tshark's ZigBee / ZCL dissectors.

The capture is written by the emulator, the key table too; what is on the wire is read
back by Wireshark's own dissectors, so these tests check our frames against someone
else's understanding of IEEE 802.15.4, ZigBee PRO security and the ZCL.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.cli_helpers import TWISTD
from tests.han_helpers import SINGLE_HOME, needs_tshark, run_estate, topology_text, tshark_fields

DURATION = 7200


def _twistd(tmp_path: Path, name: str, seed: int, duration: int = DURATION) -> Path:
    pcap = tmp_path / f"{name}.pcapng"
    keys = tmp_path / f"{name}.keys"
    proc = subprocess.run(
        [*TWISTD, "-n", "--pidfile=", "smets", "--topology", str(SINGLE_HOME), "--virtual", "--duration",
         str(duration), "--seed", str(seed), "--pcap", str(pcap), "--keys", str(keys)],
        capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return pcap


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    """The README's default run, through twistd, once for the module."""
    tmp = tmp_path_factory.mktemp("default")
    _twistd(tmp, "a", seed=1)
    return tmp


def test_same_seed_same_bytes_other_seed_other_bytes(default_run: Path) -> None:
    """The same topology and seed give a byte-identical pcapng; another seed does not."""
    again = _twistd(default_run, "again", seed=1)
    other = _twistd(default_run, "other", seed=2)
    first = (default_run / "a.pcapng").read_bytes()
    assert again.read_bytes() == first
    assert other.read_bytes() != first
    assert (default_run / "again.keys").read_text() == (default_run / "a.keys").read_text()


def test_key_file_format(default_run: Path) -> None:
    """One zigbee_pc_keys row per key: network key and every install-code link key."""
    rows = (default_run / "a.keys").read_text().splitlines()
    assert len(rows) >= 4
    for row in rows:
        key, order, label = row.split(",")
        assert key.startswith('"') and key.endswith('"') and len(key) == 34
        int(key.strip('"'), 16)
        assert order == '"Normal"'
        assert label.startswith('"home-0001 ')


@needs_tshark
def test_capture_decodes_in_wireshark(default_run: Path) -> None:
    """No malformed frame, no bad FCS; NWK and the Transport Key decrypt with the key file."""
    tmp = default_run
    pcap, keys = tmp / "a.pcapng", tmp / "a.keys"
    rows = tshark_fields(tmp, ["frame.number", "wpan.fcs_ok", "_ws.malformed", "zbee_nwk.security",
                               "zbee_aps.cmd.id", "frame.interface_name"], pcap=pcap, keys=keys)
    assert len(rows) > 2000
    assert all(r[1] == "1" for r in rows), "every frame has a correct FCS"
    assert not [r for r in rows if r[2]], "no malformed frames"
    assert {r[5] for r in rows} == {"home-0001-han"}
    network_key = next(line.split(",")[0].strip('"') for line in keys.read_text().splitlines()
                       if "network key" in line)
    transport = tshark_fields(tmp, ["zbee_aps.cmd.key", "zbee_aps.cmd.key_type"], "zbee_aps.cmd.id == 0x05",
                              pcap=pcap, keys=keys)
    network = [r[0].replace(":", "").upper() for r in transport if r[1] == "0x01"]
    assert network == [network_key] * 3, "each joiner got the network key"
    app = {r[0].replace(":", "").upper() for r in transport if r[1] == "0x03"}
    assert len(app) == 1 and app <= set(keys.read_text().replace('"', "").replace(",", " ").split()), \
        "the IHD-ESME application link key went to both and is in the key file"
    decrypted = tshark_fields(tmp, ["frame.number"], "zbee_nwk.security == 1 && (zbee_aps || zbee_nwk.cmd.id)",
                              pcap=pcap, keys=keys)
    secured = [r for r in rows if r[3] == "1"]
    assert len(decrypted) == len(secured) > 1000, "every NWK-secured frame decrypts to an APS frame or NWK command"


@needs_tshark
def test_request_key_is_an_application_link_key_request(default_run: Path) -> None:
    """4.4.9.5: the IHD asks for its ESME key with key type 0x02 and the partner's EUI-64, and
    Wireshark dissects every byte of it (no trailing data)."""
    tmp = default_run
    rows = tshark_fields(tmp, ["zbee_aps.cmd.key_type", "zbee_aps.cmd.partner", "frame.protocols"],
                         "zbee_aps.cmd.id == 0x08", pcap=tmp / "a.pcapng", keys=tmp / "a.keys")
    assert rows, "a Request Key is on the air"
    for key_type, partner, protocols in rows:
        assert key_type == "0x02"
        assert partner == "00:db:12:34:56:78:90:a0"
        assert protocols == "wpan:zbee_nwk:zbee_aps", protocols


def _ns(epoch: str) -> int:
    whole, _, frac = epoch.partition(".")
    return int(whole) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])


@needs_tshark
def test_no_frame_starts_within_cca_and_turnaround_of_the_last(default_run: Path) -> None:
    """IEEE 802.15.4-2006 6.9.9 / 7.5.1.4: a transmitter senses the channel for 8 symbols, then
    needs aTurnaroundTime (12 symbols) to switch to TX, so no frame other than an Ack starts
    less than 320 us after the previous frame on the channel ended.  Two transmitters whose
    channel checks both passed before either went on the air collide: then the second starts
    within those 320 us of the first one's start, never later."""
    tmp = default_run
    rows = tshark_fields(tmp, ["frame.time_epoch", "frame.len", "wpan.frame_type"], pcap=tmp / "a.pcapng",
                         keys=tmp / "a.keys")
    tolerance = 1_000  # ns: the virtual clock's float seconds resolve about 0.24 us at today's epoch
    last_start, last_end = None, None
    gaps, overlaps = [], []
    for epoch, length, frame_type in rows:
        start = _ns(epoch)
        end = start + (6 + int(length)) * 32_000  # SHR + PHR + PSDU at 32 us per byte
        if last_end is not None and frame_type != "0x0002":
            if start < last_end:
                overlaps.append(start - last_start)
            else:
                gaps.append(start - last_end)
        if last_end is None or end > last_end:
            last_start, last_end = start, end
    assert len(gaps) > 2000
    assert min(gaps) >= 320_000 - tolerance, sorted(gaps)[:5]
    assert all(d < 320_000 for d in overlaps), overlaps
    assert len(overlaps) < 0.03 * len(gaps), len(overlaps)


@needs_tshark
def test_pro_housekeeping_on_the_wire(default_run: Path) -> None:
    """ZigBee PRO housekeeping as Wireshark reads it: a Link Status about every 15 s from each
    router and the coordinator, listing the other routers with both link costs; the GSME's End
    Device Timeout Request answered by the CH; every joiner asks the trust centre's Node_Desc."""
    tmp = default_run
    pcap, keys = tmp / "a.pcapng", tmp / "a.keys"
    shorts = {r[1]: r[0] for r in tshark_fields(tmp, ["zbee_zdp.nwk_addr", "zbee_zdp.ext_addr"],
                                                 "zbee_aps.zdp_cluster == 0x0013", pcap=pcap, keys=keys)}
    esme, gsme, ihd = (shorts[f"00:db:12:34:56:78:90:{x}"] for x in ("a0", "a1", "a7"))
    routers = {"0x0000", esme, ihd}
    rows = tshark_fields(tmp, ["frame.time_relative", "zbee_nwk.src", "zbee_nwk.dst", "zbee_nwk.radius",
                               "zbee_nwk.cmd.link.address", "zbee_nwk.cmd.link.incoming_cost",
                               "zbee_nwk.cmd.link.outgoing_cost", "frame.protocols"],
                         "zbee_nwk.cmd.id == 0x08", pcap=pcap, keys=keys)
    by_src: dict[str, list[float]] = {}
    for t, src, dst, radius, addrs, incoming, outgoing, protocols in rows:
        assert (dst, radius, protocols) == ("0xfffc", "1", "wpan:zbee_nwk")
        assert addrs.split(",") == sorted(routers - {src}, key=lambda a: int(a, 16)) or float(t) < 60, (t, src, addrs)
        by_src.setdefault(src, []).append(float(t))
        if float(t) > 60:
            assert incoming == "1,1" and outgoing == "1,1", (t, src, incoming, outgoing)
    assert set(by_src) == routers
    for src, times in by_src.items():
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(times) > 400 and all(14.4 < g < 15.6 for g in gaps), (src, min(gaps), max(gaps))
    edt = tshark_fields(tmp, ["zbee_nwk.src", "zbee_nwk.dst", "zbee_nwk.cmd.id", "zbee_nwk.cmd.ed_tmo_req",
                              "zbee_nwk.cmd.ed_tmo_rsp_status", "zbee_nwk.cmd.ed_prnt_info.mac_data_poll_keepalive"],
                        "zbee_nwk.cmd.id == 0x0b || zbee_nwk.cmd.id == 0x0c", pcap=pcap, keys=keys)
    assert edt == [[gsme, "0x0000", "0x0b", "6", "", ""], ["0x0000", gsme, "0x0c", "", "0", "1"]], edt
    node_desc = tshark_fields(tmp, ["zbee_nwk.src", "zbee_nwk.dst", "zbee_aps.zdp_cluster"],
                              "zbee_aps.zdp_cluster == 0x0002 || zbee_aps.zdp_cluster == 0x8002", pcap=pcap, keys=keys)
    asked = {r[0] for r in node_desc if r[2] == "0x0002" and r[1] == "0x0000"}
    answered = {r[1] for r in node_desc if r[2] == "0x8002" and r[0] == "0x0000"}
    assert asked == answered == {esme, gsme, ihd}, node_desc


@needs_tshark
def test_network_key_update_seen_through_in_wireshark(tmp_path: Path) -> None:
    """A scheduled network key update (ZigBee PRO 4.6.3.4): the trust centre sends the new key
    in a unicast Transport Key to each device (the sleepy GSME when it next wakes), then a Switch
    Key; afterwards frames are secured with key sequence number 1.  The key file holds both
    network keys, so Wireshark decrypts every frame before and after the switch."""
    estate = run_estate(tmp_path, topology_text(ch="network_key_updates: [600]"), seed=4, duration=4000)
    nodes = estate.homes[0].nodes
    assert {name: n.stack.key_seq for name, n in nodes.items()} == {"ch": 1, "esme": 1, "gsme": 1, "ihd": 1}
    labels = [line.split(",")[2] for line in (tmp_path / "zigbee_pc_keys").read_text().splitlines()]
    assert '"home-0001 network key #0"' in labels and '"home-0001 network key #1"' in labels
    shorts = {r[1]: r[0] for r in tshark_fields(tmp_path, ["zbee_zdp.nwk_addr", "zbee_zdp.ext_addr"],
                                                 "zbee_aps.zdp_cluster == 0x0013")}
    devices = {shorts[f"00:db:12:34:56:78:90:{x}"] for x in ("a0", "a1", "a7")}
    cmds = tshark_fields(tmp_path, ["frame.time_relative", "zbee_nwk.dst", "zbee_aps.cmd.id", "zbee_aps.cmd.key_type",
                                    "zbee_aps.cmd.seqno", "zbee_nwk.security", "frame.protocols"],
                         "(zbee_aps.cmd.id == 0x05 && zbee_aps.cmd.seqno == 1) || zbee_aps.cmd.id == 0x09")
    new_key = {r[1] for r in cmds if r[2] == "0x05"}
    switch = {r[1] for r in cmds if r[2] == "0x09"}
    assert new_key == switch == devices, cmds
    for t, dst, cmd, key_type, seqno, nwk_security, protocols in cmds:
        assert seqno == "1" and nwk_security == "1" and protocols == "wpan:zbee_nwk:zbee_aps"
        assert cmd == "0x09" or key_type == "0x01"
        first_switch = min(float(r[0]) for r in cmds if r[1] == dst and r[2] == "0x09")
        assert cmd == "0x09" or float(t) < first_switch, "the key comes before the switch"
    rows = tshark_fields(tmp_path, ["frame.time_relative", "zbee.sec.key_seqno", "zbee_aps", "zbee_nwk.cmd.id"],
                         "zbee_nwk.security == 1")
    assert all(r[2] or r[3] for r in rows), "every NWK-secured frame decrypts"
    last = max(float(r[0]) for r in cmds)
    assert {r[1] for r in rows if float(r[0]) > last + 1} == {"1"}, "after the update only the new key is used"
    assert not tshark_fields(tmp_path, ["frame.number"], "_ws.malformed")


@needs_tshark
def test_leave_with_and_without_rejoin_on_the_wire(tmp_path: Path) -> None:
    """Scheduled topology events: the IHD and the sleepy GSME leave with rejoin and rejoin
    secured (NWK Rejoin Request / Response under the network key, same address, Device_annce
    again, no new Transport Key); the ESME leaves for good and drops out of the Link Status."""
    text = topology_text(ihd="rejoin_at: [300]", gsme="rejoin_at: [400]", esme="leave_at: [600]")
    estate = run_estate(tmp_path, text, seed=1, duration=900)
    nodes = estate.homes[0].nodes
    assert nodes["ihd"].stack.joined and nodes["gsme"].stack.joined and not nodes["esme"].stack.joined
    assert nodes["ch"].counts["rejoin"] == 2 and nodes["ch"].counts["device_left"] == 1
    shorts = {r[1]: r[0] for r in tshark_fields(tmp_path, ["zbee_zdp.nwk_addr", "zbee_zdp.ext_addr"],
                                                 "zbee_aps.zdp_cluster == 0x0013")}
    esme, gsme, ihd = (shorts[f"00:db:12:34:56:78:90:{x}"] for x in ("a0", "a1", "a7"))
    rows = tshark_fields(tmp_path, ["frame.time_relative", "zbee_nwk.src", "zbee_nwk.dst", "zbee_nwk.cmd.id",
                                    "zbee_nwk.cmd.leave.rejoin", "zbee_nwk.cmd.rejoin_status", "zbee_nwk.cmd.addr",
                                    "zbee_nwk.security", "frame.protocols"],
                         "zbee_nwk.cmd.id == 4 || zbee_nwk.cmd.id == 6 || zbee_nwk.cmd.id == 7")
    assert all(r[7] == "1" and r[8] == "wpan:zbee_nwk" for r in rows), rows
    assert [r[1:7] for r in rows] == [
        [ihd, "0xfffd", "0x04", "1", "", ""], [ihd, "0x0000", "0x06", "", "", ""],
        ["0x0000", ihd, "0x07", "", "0x00", ihd],
        [gsme, "0xfffd", "0x04", "1", "", ""], [gsme, "0x0000", "0x06", "", "", ""],
        ["0x0000", gsme, "0x07", "", "0x00", gsme],
        [esme, "0xfffd", "0x04", "0", "", ""]], rows
    announces = tshark_fields(tmp_path, ["frame.time_relative", "zbee_zdp.nwk_addr", "zbee_nwk.seqno"],
                              "zbee_aps.zdp_cluster == 0x0013")
    # one Device_annce each (routers relay the broadcast with the same NWK sequence number)
    assert sorted({r[1] for r in announces if float(r[0]) > 290}) == sorted([ihd, gsme])
    assert len({(r[1], r[2]) for r in announces if float(r[0]) > 290}) == 2
    assert not tshark_fields(tmp_path, ["frame.number"], "zbee_aps.cmd.id == 0x05 && frame.time_relative > 290")
    # the IHD's reads of the ESME go on after its rejoin, until the ESME leaves
    answered = tshark_fields(tmp_path, ["frame.time_relative"],
                             f"zbee_nwk.src == {esme} && zbee_nwk.dst == {ihd} && zbee_zcl.cmd.id == 0x01")
    assert any(310 < float(r[0]) < 600 for r in answered)
    late = tshark_fields(tmp_path, ["zbee_nwk.cmd.link.address"],
                         "zbee_nwk.cmd.id == 0x08 && zbee_nwk.src == 0x0000 && frame.time_relative > 700")
    assert late and all(esme not in r[0].split(",") for r in late)
    assert not tshark_fields(tmp_path, ["frame.number"], "_ws.malformed")


@needs_tshark
def test_capture_shows_the_home_working(default_run: Path) -> None:
    """Associations, announces, IHD reads of ESME Metering with responses, GSME polls, mirror reports."""
    tmp = default_run
    pcap, keys = tmp / "a.pcapng", tmp / "a.keys"
    assoc = tshark_fields(tmp, ["wpan.cmd", "wpan.assoc.status"], "wpan.cmd == 0x01 || wpan.cmd == 0x02",
                          pcap=pcap, keys=keys)
    assert sum(1 for r in assoc if r[0] == "0x01") == 3
    assert [r[1] for r in assoc if r[0] == "0x02"] == ["0x00"] * 3
    announces = tshark_fields(tmp, ["zbee_zdp.ext_addr"], "zbee_aps.zdp_cluster == 0x0013", pcap=pcap, keys=keys)
    assert {r[0] for r in announces} == {"00:db:12:34:56:78:90:a0", "00:db:12:34:56:78:90:a1",
                                         "00:db:12:34:56:78:90:a7"}
    # service discovery: Match_Desc (IHD), Active_EP (ESME -> CH), Simple_Desc, with responses
    zdp = Counter(r[0] for r in tshark_fields(tmp, ["zbee_aps.zdp_cluster"], "zbee_zdp", pcap=pcap, keys=keys))
    for request in ("0x0004", "0x0005", "0x0006"):
        response = "0x8" + request[3:]
        assert zdp[request] >= 1 and zdp[response] >= 1, (request, zdp)
    # IHD (..a7) -> ESME (..a0) Read Attributes on Metering, and the responses back
    shorts = {r[1]: r[0] for r in tshark_fields(tmp, ["zbee_zdp.nwk_addr", "zbee_zdp.ext_addr"],
                                                 "zbee_aps.zdp_cluster == 0x0013", pcap=pcap, keys=keys)}
    ihd, esme, gsme = shorts["00:db:12:34:56:78:90:a7"], shorts["00:db:12:34:56:78:90:a0"], \
        shorts["00:db:12:34:56:78:90:a1"]
    reads = tshark_fields(tmp, ["zbee_nwk.src", "zbee_nwk.dst", "zbee_zcl.cmd.tsn"],
                          "zbee_aps.cluster == 0x0702 && zbee_zcl.cmd.id == 0x00", pcap=pcap, keys=keys)
    answers = tshark_fields(tmp, ["zbee_nwk.src", "zbee_nwk.dst", "zbee_zcl.cmd.tsn", "zbee_zcl_se.met.attr_id"],
                            "zbee_aps.cluster == 0x0702 && zbee_zcl.cmd.id == 0x01", pcap=pcap, keys=keys)
    ihd_reads = {r[2] for r in reads if (r[0], r[1]) == (ihd, esme)}
    answered = {r[2] for r in answers if (r[0], r[1]) == (esme, ihd)}
    assert len(ihd_reads) >= 250  # TSNs wrap at 256: ~720 reads in two hours use them all
    assert answered >= ihd_reads
    assert any("0x0000" in r[3] for r in answers), "CurrentSummationDelivered is read"
    # GSME data polls (MAC Data Request) and mirror reports to the GPF about every 30 minutes
    polls = tshark_fields(tmp, ["wpan.src16"], f"wpan.cmd == 0x04 && wpan.src16 == {gsme}", pcap=pcap, keys=keys)
    assert len(polls) >= 10
    mirror = tshark_fields(tmp, ["frame.time_relative", "zbee_nwk.src", "zbee_aps.dst"],
                           "zbee_aps.cluster == 0x0702 && zbee_zcl.cmd.id == 0x0a", pcap=pcap, keys=keys)
    times = [float(r[0]) for r in mirror if r[1] == gsme and r[1] != "0x0000"]
    assert len(times) >= 4
    gaps = [b - a for a, b in zip(times[1:], times[2:])]
    assert gaps and all(abs(g - 1800) < 5 for g in gaps), gaps
    # the mirror request / configure exchange happened
    met_cmds = tshark_fields(tmp, ["zbee_zcl_se.met.cmd.srv_tx.id", "zbee_zcl_se.met.cmd.srv_rx.id"],
                             "zbee_aps.cluster == 0x0702 && zbee_zcl.type == 1", pcap=pcap, keys=keys)
    flat = Counter(x for r in met_cmds for x in r if x)
    assert flat["0x01"] >= 2 and flat["0x08"] >= 1  # RequestMirror + Response, ConfigureMirror


def test_whitelist_refusal(tmp_path: Path) -> None:
    """A device missing from the CHF device log is refused at association and never joins."""
    estate = run_estate(tmp_path, topology_text(ihd="whitelisted: false"), seed=5, duration=900)
    nodes = estate.homes[0].nodes
    assert nodes["ihd"].joined_at is None
    assert nodes["ihd"].stack.network_key is None
    assert nodes["esme"].joined_at is not None and nodes["gsme"].joined_at is not None
    assert nodes["ch"].counts["join_denied"] >= 2  # it keeps trying, and keeps being refused
    metric = estate.metrics.registry.get_sample_value("smets_joins_total", {"node_kind": "IHD", "outcome": "denied"})
    assert metric >= 2


@needs_tshark
def test_whitelist_refusal_on_the_wire(tmp_path: Path) -> None:
    """tshark shows the refused attempts: Association Response with status PAN access denied."""
    run_estate(tmp_path, topology_text(ihd="whitelisted: false"), seed=5, duration=300)
    rows = tshark_fields(tmp_path, ["wpan.dst64", "wpan.assoc.status"], "wpan.cmd == 0x02")
    denied = [r for r in rows if r[0] == "00:db:12:34:56:78:90:a7"]
    assert denied and all(r[1] == "0x02" for r in denied)


def test_wrong_install_code(tmp_path: Path) -> None:
    """With a different install code in the device log the Transport Key does not decrypt: no join."""
    estate = run_estate(tmp_path, topology_text(
        ihd='registered_install_code: "000102030405060708090A0B0C0D0E0F"'), seed=6, duration=900)
    ihd = estate.homes[0].nodes["ihd"]
    assert ihd.joined_at is None and ihd.stack.network_key is None
    assert ihd.counts["aps_mic"] >= 2  # the key-transport key derived from its own code fails the MIC
    assert estate.metrics.registry.get_sample_value(
        "smets_joins_total", {"node_kind": "IHD", "outcome": "no_network_key"}) >= 2
    assert estate.homes[0].nodes["esme"].joined_at is not None


@needs_tshark
def test_wrong_install_code_on_the_wire(tmp_path: Path) -> None:
    """The association succeeds and the TC sends the key, but the device never announces itself."""
    run_estate(tmp_path, topology_text(ihd='registered_install_code: "000102030405060708090A0B0C0D0E0F"'),
               seed=6, duration=300)
    assoc = tshark_fields(tmp_path, ["wpan.dst64", "wpan.assoc.status"], "wpan.cmd == 0x02")
    assert ["00:db:12:34:56:78:90:a7", "0x00"] in assoc
    announces = tshark_fields(tmp_path, ["zbee_zdp.ext_addr"], "zbee_aps.zdp_cluster == 0x0013")
    assert ["00:db:12:34:56:78:90:a7"] not in announces
    assert ["00:db:12:34:56:78:90:a0"] in announces


def test_lossy_han_retries_and_reads(tmp_path: Path) -> None:
    """20 % loss on every radio path: MAC retries happen and the IHD still gets >= 90 % of its reads."""
    estate = run_estate(tmp_path, topology_text("{loss: 0.2}"), seed=7, duration=3600, pcap=False)
    nodes = estate.homes[0].nodes
    ihd = nodes["ihd"]
    assert estate.homes[0].medium.counts["loss"] > 500
    assert sum(n.counts["tx_retry"] for n in nodes.values()) > 200
    assert ihd.reads_sent >= 300
    assert ihd.reads_answered >= 0.9 * ihd.reads_sent, ihd.describe()
    assert nodes["gsme"].reports_acked >= 1


@needs_tshark
def test_lossy_han_retries_visible(tmp_path: Path) -> None:
    """In the capture the same MAC sequence number is sent again when its ack was missing."""
    run_estate(tmp_path, topology_text("{loss: 0.2}"), seed=7, duration=600)
    rows = tshark_fields(tmp_path, ["wpan.src16", "wpan.seq_no", "frame.len"], "wpan.frame_type == 1")
    seen = Counter((r[0], r[1], r[2]) for r in rows)
    assert sum(1 for c in seen.values() if c > 1) > 20


def test_malformed_frames_are_counted_and_dropped(tmp_path: Path) -> None:
    """Garbage on the air (bad FCS, truncated, nonsense NWK) is counted; every node keeps working."""
    from protocols.ieee802154.frames import data_frame, encode_mac

    bad: list[bytes] = []

    def inject(estate, clock) -> None:
        medium = estate.homes[0].medium
        rng = __import__("random").Random(99)
        pan = estate.topology.homes[0].pan_id

        def garbage(i: int = 0) -> None:
            kind = i % 4
            if kind == 0:
                frame = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120)))  # random bytes
            elif kind == 1:
                good = encode_mac(data_frame(rng.randrange(256), pan, 0xFFFF, 0x1234, b"\x08\x00" * 10))
                frame = good[:-2] + bytes((good[-2] ^ 0xFF, good[-1]))  # bad FCS
            elif kind == 2:
                frame = encode_mac(data_frame(rng.randrange(256), pan, 0xFFFF, 0x1234, b"\x0a"))  # truncated NWK
            else:
                nwk = bytes(rng.randrange(256) for _ in range(40))
                frame = encode_mac(data_frame(rng.randrange(256), pan, 0xFFFF, 0x1234, b"\x08\x02" + nwk))
            bad.append(frame)
            medium.inject(frame)
            clock.callLater(7.3, garbage, i + 1)

        clock.callLater(60.0, garbage)

    estate = run_estate(tmp_path, topology_text(), seed=8, duration=1800, pcap=False, before_run=inject)
    nodes = estate.homes[0].nodes
    assert len(bad) > 200
    totals = Counter()
    for node in nodes.values():
        totals.update(node.counts)
    assert totals["rx_bad_fcs"] + totals["rx_malformed"] > 50
    assert totals["malformed"] + totals["nwk_mic"] > 20
    ihd = nodes["ihd"]
    assert ihd.reads_answered >= 0.95 * ihd.reads_sent and ihd.reads_sent > 150
    assert nodes["gsme"].reports_acked >= 1


def test_metrics_exposed(tmp_path: Path) -> None:
    """The Prometheus registry has frames, drops, joins and devices up, labelled by kind."""
    estate = run_estate(tmp_path, topology_text("{loss: 0.05}"), seed=9, duration=600, pcap=False)
    text = estate.metrics.render().decode()
    assert 'smets_frames_sent_total{medium="han",node_kind="IHD"}' in text
    assert 'smets_frames_received_total{medium="han",node_kind="ESME"}' in text
    assert 'smets_frames_dropped_total{medium="han",reason="loss"}' in text
    assert 'smets_joins_total{node_kind="GSME",outcome="joined"} 1.0' in text
    assert 'smets_devices_up{node_kind="CH"} 1.0' in text


def test_metrics_http_resource() -> None:
    """/metrics renders the registry with the Prometheus content type on the reactor thread."""
    from twisted.web.test.requesthelper import DummyRequest

    from emulator.metrics import Metrics, metrics_resource

    metrics = Metrics()
    metrics.frames_sent.labels("han", "CH").inc(3)
    root = metrics_resource(metrics)
    request = DummyRequest([b"metrics"])
    page = root.getChildWithDefault(b"metrics", request)
    body = page.render_GET(request)
    assert b'smets_frames_sent_total{medium="han",node_kind="CH"} 3.0' in body
    assert request.responseHeaders.getRawHeaders(b"content-type")[0].startswith(b"text/plain")



def test_real_time_run_serves_metrics(tmp_path: Path) -> None:
    """Without --virtual the same estate runs on the reactor's clock; /metrics answers meanwhile."""
    import json
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*TWISTD, "-n", "--pidfile=", "smets", "--topology", str(SINGLE_HOME), "--duration", "12",
         "--seed", "4", "--metrics-port", str(port), "--pcap", str(tmp_path / "rt.pcapng")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            except OSError:
                continue
            if 'smets_joins_total{node_kind="IHD",outcome="joined"} 1.0' in body:
                break
        assert 'smets_joins_total{node_kind="IHD",outcome="joined"} 1.0' in body, json.dumps(body[-2000:])
        assert 'smets_devices_up{node_kind="GSME"} 1.0' in body
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "network formed" in out and (tmp_path / "rt.pcapng").stat().st_size > 1000


TWO_HOMES = """\
name: street
homes:
  - name: no-1
    devices: [{kind: CH, name: ch}, {kind: ESME, name: esme}, {kind: GSME, name: gsme}, {kind: IHD, name: ihd}]
  - name: no-2
    han: {channel: 20, impairments: {loss: 0.1}}
    devices: [{kind: CH, name: ch}, {kind: ESME, name: esme}, {kind: IHD, name: ihd}]
"""


@needs_tshark
def test_two_homes_one_interface_each(tmp_path: Path) -> None:
    """Each home is its own medium and pcapng interface, named after it; keys are per home."""
    estate = run_estate(tmp_path, TWO_HOMES, seed=5, duration=900)
    for home in estate.homes:
        assert all(n.joined_at is not None for n in home.nodes.values())
    rows = tshark_fields(tmp_path, ["frame.interface_name", "wpan.fcs_ok", "_ws.malformed", "wpan.dst_pan"])
    by_home = Counter(r[0] for r in rows)
    assert set(by_home) == {"no-1-han", "no-2-han"} and min(by_home.values()) > 300
    assert all(r[1] == "1" and not r[2] for r in rows)
    pans = {r[0]: r[3] for r in rows if r[3] and r[3] != "0xffff"}
    assert pans["no-1-han"] != pans["no-2-han"]
    labels = [line.split(",")[2] for line in (tmp_path / "zigbee_pc_keys").read_text().splitlines()]
    assert sum(label.startswith('"no-1 ') for label in labels) == 5  # network, 3 install codes, 1 app key
    assert sum(label.startswith('"no-2 ') for label in labels) == 4
