"""tshark decodes a join-like ZigBee sequence built with our codecs (spec 3.5, 5.3).

One pcap (LINKTYPE 195, MAC + FCS) holds: an APS Transport Key (network key) secured with
the key-transport key of an install-code link key, NWK unsecured; then NWK-secured frames:
Device_annce, an APS-secured ZCL Read Attributes, an APS ack, a fragmented ASDU in three
blocks, every ZDP message, NWK commands and APS commands.  tshark gets ONLY the
install-code key: it must learn the network key from the Transport Key, decrypt all NWK
and APS security, reassemble the fragments and report no malformed frame and FCS OK
everywhere.
"""

import json
import os
import shutil
import struct
import subprocess

import pytest

from protocols.zigbee import aps, nwk, zdo
from protocols.zigbee.aps import ApsFrame, encode_aps, encode_aps_command
from protocols.zigbee.fragmentation import fragment_frames
from protocols.zigbee.keys import append_install_code_crc, install_code_to_link_key
from protocols.zigbee.nwk import NwkFrame, SourceRoute, encode_nwk, encode_nwk_command
from protocols.zigbee.security import KEY_ID_KEY_TRANSPORT, secure_aps, secure_nwk

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

PAN = 0x1A62
TC = 0x00124B0001020304
DEV = 0x00124B00AABBCCDD
DEV_SHORT = 0x4B2A
NWK_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
INSTALL_CODE = append_install_code_crc(bytes.fromhex("83FED3407A939723A5C639B26916D505"))
LINK_KEY = install_code_to_link_key(INSTALL_CODE)


def _mac(seq: int, dst: int, src: int, payload: bytes) -> bytes:
    """802.15.4 data frame with FCS."""
    from protocols.ieee802154.frames import data_frame, encode_mac
    return encode_mac(data_frame(seq, PAN, dst, src, payload))


class _Builder:
    def __init__(self):
        self.frames: list[bytes] = []
        self.nwk_counter = {TC: 0, DEV: 0}
        self.aps_counter = 0
        self.seq = 0

    def add(self, mac_dst, nwk_frame: NwkFrame, secure: bool = True, src_eui: int = DEV) -> int:
        self.seq += 1
        if secure:
            data = secure_nwk(nwk_frame, NWK_KEY, self.nwk_counter[src_eui], src_eui, 0)
            self.nwk_counter[src_eui] += 1
        else:
            data = encode_nwk(nwk_frame)
        self.frames.append(_mac(self.seq, mac_dst, nwk_frame.src, data))
        return len(self.frames)  # tshark frame number

    def nwk(self, src, dst, payload, **kw) -> NwkFrame:
        self.seq_nwk = getattr(self, "seq_nwk", 0) + 1
        return NwkFrame(dst=dst, src=src, seq=self.seq_nwk & 0xFF, payload=payload,
                        src_ieee=DEV if src == DEV_SHORT else TC, **kw)


def _zcl_read_attributes(tsn: int, attrs) -> bytes:
    return bytes((0x00, tsn, 0x00)) + b"".join(struct.pack("<H", a) for a in attrs)


def _build():
    b = _Builder()
    expect = {}
    # 1. Transport Key: NWK unsecured, APS key id 2 from the install-code key, ext nonce = TC
    tk = encode_aps_command(aps.TransportKey(aps.KEY_TYPE_STANDARD_NETWORK, NWK_KEY, key_seq=0,
                                             dst_ieee=DEV, src_ieee=TC))
    a = secure_aps(ApsFrame(aps.APS_FRAME_COMMAND, counter=1, payload=tk), LINK_KEY, 0, TC,
                   key_id=KEY_ID_KEY_TRANSPORT)
    n = b.add(DEV_SHORT, NwkFrame(dst=DEV_SHORT, src=0x0000, seq=1, payload=a, radius=1), secure=False)
    expect["transport_key"] = n
    # 2. Device_annce broadcast
    z = zdo.encode_zdp(0x80, zdo.DeviceAnnce(DEV_SHORT, DEV, 0x80))
    a = encode_aps(ApsFrame(aps.APS_FRAME_DATA, aps.APS_DELIVERY_BROADCAST, 2, 0, None, 0x0013, 0, 0, z))
    expect["annce"] = b.add(0xFFFF, b.nwk(DEV_SHORT, 0xFFFD, a))
    # 3. APS-secured ZCL Read Attributes on Metering (link key, key id 0, ext nonce)
    zcl = bytes.fromhex("0001000000")
    a = secure_aps(ApsFrame(counter=3, dst_endpoint=1, cluster=0x0702, profile=0x0109, src_endpoint=1,
                            payload=zcl, ack_request=True), LINK_KEY, 1, DEV)
    expect["zcl"] = b.add(0x0000, b.nwk(DEV_SHORT, 0x0000, a))
    # 4. its APS ack
    a = encode_aps(ApsFrame(aps.APS_FRAME_ACK, counter=3, dst_endpoint=1, cluster=0x0702, profile=0x0109,
                            src_endpoint=1))
    expect["ack"] = b.add(DEV_SHORT, b.nwk(0x0000, DEV_SHORT, a), src_eui=TC)
    # 5. fragmented ASDU: ZCL Read Attributes of 60 attributes (123 bytes) in 50-byte blocks
    asdu = _zcl_read_attributes(9, range(0x0100, 0x0100 + 60))
    template = ApsFrame(counter=4, dst_endpoint=1, cluster=0x0702, profile=0x0109, src_endpoint=1,
                        ack_request=True)
    expect["fragments"] = [b.add(0x0000, b.nwk(DEV_SHORT, 0x0000, encode_aps(f)))
                           for f in fragment_frames(template, asdu, 50)]
    expect["asdu_len"] = len(asdu)
    # 6. every ZDP message (profile 0, endpoints 0)
    expect["zdp"] = {}
    msgs = [
        zdo.NwkAddrReq(DEV, 1, 0), zdo.IeeeAddrReq(DEV_SHORT), zdo.NwkAddrRsp(0, DEV, DEV_SHORT, 0, (0x1111,)),
        zdo.IeeeAddrRsp(0, DEV, DEV_SHORT), zdo.NodeDescReq(DEV_SHORT),
        zdo.NodeDescRsp(0, DEV_SHORT, zdo.NodeDescriptor(2, 0x80, 0x1234)),
        zdo.SimpleDescReq(DEV_SHORT, 1),
        zdo.SimpleDescRsp(0, DEV_SHORT, zdo.SimpleDescriptor(1, 0x0109, 0x0501, 1, (0x0000, 0x0702), (0x000A,))),
        zdo.ActiveEpReq(DEV_SHORT), zdo.ActiveEpRsp(0, DEV_SHORT, (1, 2)),
        zdo.MatchDescReq(0xFFFD, 0x0109, (0x0800,), ()), zdo.MatchDescRsp(0, 0x0000, (1,)),
        zdo.MgmtLeaveReq(DEV, remove_children=False, rejoin=True), zdo.MgmtLeaveRsp(0),
        zdo.MgmtPermitJoiningReq(60, 1), zdo.MgmtPermitJoiningRsp(0),
    ]
    for i, m in enumerate(msgs):
        a = encode_aps(ApsFrame(counter=10 + i, dst_endpoint=0, cluster=m.CLUSTER_ID, profile=0, src_endpoint=0,
                                payload=zdo.encode_zdp(i, m)))
        expect["zdp"][b.add(0x0000, b.nwk(DEV_SHORT, 0x0000, a))] = m
    # 7. NWK commands (NWK command frames, secured), one with a source route
    expect["nwk_cmd"] = {}
    cmds = [
        nwk.RouteRequest(5, 0xFFFC, 0, many_to_one=1), nwk.RouteReply(5, 0x0000, DEV_SHORT, 2, responder_ieee=DEV),
        nwk.NetworkStatus(0x0B, DEV_SHORT), nwk.Leave(rejoin=True), nwk.RouteRecord((0x1111, 0x2222)),
        nwk.RejoinRequest(0x80), nwk.RejoinResponse(DEV_SHORT, 0),
        nwk.LinkStatus((nwk.LinkStatusEntry(0x1111, 1, 3),)),
        nwk.EndDeviceTimeoutRequest(8, 0), nwk.EndDeviceTimeoutResponse(0, 3),
    ]
    for c in cmds:
        f = b.nwk(DEV_SHORT, 0x0000, encode_nwk_command(c), frame_type=nwk.NWK_FRAME_COMMAND)
        expect["nwk_cmd"][b.add(0x0000, f)] = c
    f = b.nwk(0x0000, DEV_SHORT, zcl_frame := encode_aps(ApsFrame(counter=30, dst_endpoint=1, cluster=0x0702,
                                                                  profile=0x0109, src_endpoint=1,
                                                                  payload=bytes.fromhex("0002000000"))),
              source_route=SourceRoute(0, (0x1111,)), dst_ieee=DEV)
    assert zcl_frame
    expect["source_route"] = b.add(0x1111, f, src_eui=TC)
    # 8. APS commands, APS-secured with the link key (key id 0, ext nonce)
    expect["aps_cmd"] = {}
    tunneled = secure_aps(ApsFrame(aps.APS_FRAME_COMMAND, counter=40, payload=tk), LINK_KEY, 5, TC,
                          key_id=KEY_ID_KEY_TRANSPORT)
    acmds = [
        aps.UpdateDevice(DEV, DEV_SHORT, 1), aps.RemoveDevice(DEV), aps.RequestKey(aps.KEY_TYPE_TC_LINK),
        aps.SwitchKey(0), aps.VerifyKey(aps.KEY_TYPE_TC_LINK, DEV, bytes(range(16))),
        aps.ConfirmKey(0, aps.KEY_TYPE_TC_LINK, DEV),
        aps.TransportKey(aps.KEY_TYPE_TC_LINK, bytes(range(16)), dst_ieee=DEV, src_ieee=TC),
        aps.TransportKey(aps.KEY_TYPE_APP_LINK, bytes(range(16)), partner_ieee=DEV, initiator=True),
    ]
    for i, c in enumerate(acmds):
        src_eui = DEV if isinstance(c, (aps.RequestKey, aps.VerifyKey, aps.UpdateDevice)) else TC
        a = secure_aps(ApsFrame(aps.APS_FRAME_COMMAND, counter=50 + i, payload=encode_aps_command(c)),
                       LINK_KEY, 10 + i, src_eui)
        src_short = DEV_SHORT if src_eui == DEV else 0x0000
        dst_short = 0x0000 if src_eui == DEV else DEV_SHORT
        expect["aps_cmd"][b.add(dst_short, b.nwk(src_short, dst_short, a), src_eui=src_eui)] = c
    a = encode_aps(ApsFrame(aps.APS_FRAME_COMMAND, counter=60,
                            payload=encode_aps_command(aps.Tunnel(DEV, tunneled))))
    expect["tunnel"] = b.add(DEV_SHORT, b.nwk(0x0000, DEV_SHORT, a), src_eui=TC)
    return b.frames, expect


FIELDS = ["frame.number", "wpan.fcs_ok", "_ws.malformed", "_ws.expert.severity", "zbee_nwk.src", "zbee_nwk.dst",
          "zbee_nwk.security", "zbee_nwk.relay.count", "zbee_nwk.cmd.id", "zbee_aps.cmd.id", "zbee_aps.cmd.key",
          "zbee_aps.cmd.key_type", "zbee_aps.cmd.device", "zbee_aps.cmd.dst", "zbee_aps.cluster", "zbee_aps.type",
          "zbee_aps.fragmentation", "zbee_aps.block", "zbee_aps.reassembled.length", "zbee_zdp.ext_addr",
          "zbee_zdp.nwk_addr", "zbee_zdp.in_cluster", "zbee_zdp.out_cluster", "zbee_zdp.leave.rejoin",
          "zbee_zdp.leave.children", "zbee_zdp.duration", "zbee_zdp.node.manufacturer", "zbee_zcl.cmd.id",
          "zbee_zcl_se.met.attr_id", "zbee.sec.key_id", "zbee.sec.decryption_key", "frame.protocols",
          "zbee_nwk.cmd.leave.rejoin", "zbee_nwk.cmd.relay_device", "zbee_nwk.cmd.link.address",
          "zbee_nwk.cmd.ed_tmo_req", "zbee_nwk.cmd.route.resp_ext"]


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    frames, expect = _build()
    d = tmp_path_factory.mktemp("zb")
    pcap = d / "join.pcap"
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 195))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(fr), len(fr)) + fr)
    conf = d / "wsconf"
    conf.mkdir()
    cmd = ["tshark", "-r", str(pcap), "-o", f'uat:zigbee_pc_keys:"{LINK_KEY.hex().upper()}","Normal","ic"',
           "-T", "json"] + [x for fld in FIELDS for x in ("-e", fld)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60,
                         env={**os.environ, "WIRESHARK_CONFIG_DIR": str(conf)})
    rows = {}
    for pkt in json.loads(out.stdout):
        layers = pkt["_source"]["layers"]
        rows[int(layers["frame.number"][0])] = layers
    assert len(rows) == len(frames)
    return rows, expect


def _f(row, name):
    v = row.get(name)
    return v[0] if v else None


def test_every_frame_fcs_ok_and_not_malformed(decoded):
    rows, _ = decoded
    for n, row in rows.items():
        assert _f(row, "wpan.fcs_ok") == "1", n
        assert "_ws.malformed" not in row, (n, row.get("frame.protocols"))
        assert "_ws.malformed" not in _f(row, "frame.protocols"), n


def test_transport_key_decrypted_with_install_code_key(decoded):
    rows, expect = decoded
    row = rows[expect["transport_key"]]
    assert _f(row, "zbee_aps.cmd.id") == "0x05"
    assert _f(row, "zbee_aps.cmd.key_type") == "0x01"
    assert _f(row, "zbee_aps.cmd.key").replace(":", "").lower() == NWK_KEY.hex()
    assert _f(row, "zbee.sec.key_id") == "0x02"
    assert _f(row, "zbee.sec.decryption_key") == "ic"
    assert _f(row, "zbee_nwk.security") == "0"


def test_device_annce_nwk_decrypted(decoded):
    rows, expect = decoded
    row = rows[expect["annce"]]
    assert _f(row, "zbee_nwk.security") == "1"
    assert _f(row, "zbee_nwk.dst") == "0xfffd" and _f(row, "zbee_nwk.src") == "0x4b2a"
    assert _f(row, "zbee_zdp.nwk_addr") == "0x4b2a"
    assert _f(row, "zbee_zdp.ext_addr") == "00:12:4b:00:aa:bb:cc:dd"


def test_aps_secured_zcl_and_ack(decoded):
    rows, expect = decoded
    row = rows[expect["zcl"]]
    assert _f(row, "zbee_aps.cluster") == "0x0702"
    assert _f(row, "zbee_zcl.cmd.id") == "0x00" and _f(row, "zbee_zcl_se.met.attr_id") == "0x0000"
    assert row["zbee.sec.decryption_key"][-1] == "ic"  # APS layer decrypted with the link key
    ack = rows[expect["ack"]]
    assert _f(ack, "zbee_aps.type") == "0x02" and _f(ack, "zbee_aps.cluster") == "0x0702"


def test_fragments_reassembled_by_tshark(decoded):
    rows, expect = decoded
    blocks = [(_f(rows[n], "zbee_aps.fragmentation"), _f(rows[n], "zbee_aps.block")) for n in expect["fragments"]]
    assert [int(fr, 16) for fr, _ in blocks] == [1, 2, 2]
    assert [int(b) for _, b in blocks] == [3, 1, 2]
    last = rows[expect["fragments"][-1]]
    assert int(_f(last, "zbee_aps.reassembled.length")) == expect["asdu_len"]
    assert len(last["zbee_zcl_se.met.attr_id"]) == 60
    assert last["zbee_zcl_se.met.attr_id"][0] == "0x0100" and last["zbee_zcl_se.met.attr_id"][-1] == "0x013b"


def test_zdp_messages(decoded):
    rows, expect = decoded
    for n, m in expect["zdp"].items():
        row = rows[n]
        assert "zbee_zdp" in _f(row, "frame.protocols"), m
        if isinstance(m, zdo.SimpleDescRsp):
            assert row["zbee_zdp.in_cluster"] == ["0x0000", "0x0702"] and row["zbee_zdp.out_cluster"] == ["0x000a"]
        if isinstance(m, zdo.MatchDescReq):
            assert row["zbee_zdp.in_cluster"] == ["0x0800"]
        if isinstance(m, zdo.MgmtLeaveReq):
            # bit 7 = rejoin, bit 6 = remove children
            assert _f(row, "zbee_zdp.leave.rejoin") == "1" and _f(row, "zbee_zdp.leave.children") == "0"
        if isinstance(m, zdo.MgmtPermitJoiningReq):
            assert _f(row, "zbee_zdp.duration") == "60"
        if isinstance(m, zdo.NodeDescRsp):
            assert _f(row, "zbee_zdp.node.manufacturer") == "0x1234"
        if isinstance(m, zdo.NwkAddrRsp):
            assert _f(row, "zbee_zdp.ext_addr") == "00:12:4b:00:aa:bb:cc:dd"


def test_nwk_commands(decoded):
    rows, expect = decoded
    for n, c in expect["nwk_cmd"].items():
        row = rows[n]
        assert int(_f(row, "zbee_nwk.cmd.id"), 16) == c.COMMAND_ID, c
        if isinstance(c, nwk.Leave):
            assert _f(row, "zbee_nwk.cmd.leave.rejoin") == "1"
        if isinstance(c, nwk.RouteRecord):
            assert row["zbee_nwk.cmd.relay_device"] == ["0x1111", "0x2222"]
        if isinstance(c, nwk.LinkStatus):
            assert row["zbee_nwk.cmd.link.address"] == ["0x1111"]
        if isinstance(c, nwk.RouteReply):
            assert _f(row, "zbee_nwk.cmd.route.resp_ext") == "00:12:4b:00:aa:bb:cc:dd"
    assert _f(rows[expect["source_route"]], "zbee_nwk.relay.count") == "1"
    assert _f(rows[expect["source_route"]], "zbee_zcl.cmd.id") == "0x00"


def test_aps_commands(decoded):
    rows, expect = decoded
    for n, c in expect["aps_cmd"].items():
        row = rows[n]
        assert int(_f(row, "zbee_aps.cmd.id"), 16) == c.COMMAND_ID, c
        assert row["zbee.sec.decryption_key"][-1] == "ic", c
        if isinstance(c, aps.UpdateDevice):
            assert _f(row, "zbee_aps.cmd.device") == "00:12:4b:00:aa:bb:cc:dd"
        if isinstance(c, aps.TransportKey):
            assert _f(row, "zbee_aps.cmd.key").replace(":", "") == bytes(range(16)).hex()
    row = rows[expect["tunnel"]]
    assert row["zbee_aps.cmd.id"][0] == "0x0e"
    assert _f(row, "zbee_aps.cmd.dst") == "00:12:4b:00:aa:bb:cc:dd"
