"""tshark decodes our MAC frames (LINKTYPE 195, IEEE802_15_4_WITHFCS) as we meant them.

The frames are written to a pcap by a tiny writer in this file; tshark's 802.15.4 and ZigBee
beacon dissectors are the independent reference.
"""

from __future__ import annotations

import struct
import subprocess

from protocols.ieee802154 import (
    Beacon, SuperframeSpec, ZigbeeBeaconPayload, ack_frame, association_request_frame,
    association_response_frame, beacon_frame, beacon_request_frame, coordinator_realignment_frame,
    data_frame, data_request_frame, disassociation_notification_frame, encode_mac,
    encode_zigbee_beacon_payload, orphan_notification_frame,
)
from tests.conftest import needs_tshark

pytestmark = needs_tshark

CH_EUI = 0x00124B0001020304
GSME_EUI = 0x00124B00AABBCCDD
PAN = 0x1A62
LINKTYPE_IEEE802_15_4_WITHFCS = 195
# An unsecured ZigBee NWK command frame (FCF 0x0009: command, protocol version 2), 0x4b2a -> 0x0000,
# radius 1, seq 7, NWK Leave (0x04) with options 0, so the MAC payload dissects as ZigBee NWK.
NWK_LEAVE = bytes.fromhex("0900" "0000" "2a4b" "01" "07" "04" "00")


def write_pcap(path, psdus, linktype=LINKTYPE_IEEE802_15_4_WITHFCS):
    """Classic libpcap file: global header then one record per PSDU, 10 ms apart."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, psdu in enumerate(psdus):
            f.write(struct.pack("<IIII", 1_700_000_000, i * 10_000, len(psdu), len(psdu)))
            f.write(psdu)


FIELDS = ["frame.number", "wpan.fcs_ok", "wpan.frame_type", "wpan.cmd", "wpan.seq_no", "wpan.dst_pan",
          "wpan.dst16", "wpan.dst64", "wpan.src16", "wpan.src64", "wpan.ack_request", "wpan.pending",
          "wpan.assoc.status", "wpan.cinfo.alloc_addr", "wpan.assoc_permit", "wpan.bcn_coord",
          "zbee_beacon.protocol", "zbee_beacon.profile", "zbee_beacon.version", "zbee_beacon.router",
          "zbee_beacon.depth", "zbee_beacon.end_dev", "zbee_beacon.ext_panid", "zbee_beacon.tx_offset",
          "zbee_beacon.update_id", "wpan.realign.addr", "wpan.realign.pan", "wpan.realign.channel",
          "wpan.disassoc.reason", "_ws.malformed", "_ws.expert.severity"]


def tshark_fields(path):
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for name in FIELDS:
        cmd += ["-e", name]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout
    rows = []
    for line in out.splitlines():
        values = line.split("\t")
        rows.append(dict(zip(FIELDS, values + [""] * (len(FIELDS) - len(values)))))
    return rows


def tshark_warnings(path):
    """Frames with a malformed mark or any expert item of severity Warning (0x00600000) or worse."""
    cmd = ["tshark", "-n", "-r", str(path), "-Y", "_ws.malformed || _ws.expert.severity >= 0x00600000"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout.strip()


def test_tshark_decodes_join_frames(tmp_path):
    zb = encode_zigbee_beacon_payload(ZigbeeBeaconPayload(CH_EUI, router_capacity=True, end_device_capacity=True,
                                                          device_depth=0, nwk_update_id=3))
    frames = [
        data_frame(0x10, PAN, 0x0000, 0x4B2A, NWK_LEAVE),                                      # 1
        ack_frame(0x10),                                                                       # 2
        beacon_request_frame(0x11),                                                            # 3
        beacon_frame(0x99, PAN, 0x0000, Beacon(SuperframeSpec(pan_coordinator=True, association_permit=True),
                                               payload=zb)),                                   # 4
        association_request_frame(0x12, PAN, 0x0000, GSME_EUI, 0x80),                          # 5
        data_request_frame(0x13, PAN, 0x0000, GSME_EUI),                                       # 6
        ack_frame(0x13, frame_pending=True),                                                   # 7
        association_response_frame(0x20, PAN, GSME_EUI, CH_EUI, 0x4B2A, 0),                    # 8
        data_request_frame(0x14, PAN, 0x0000, 0x4B2A),                                         # 9
        data_frame(0x15, PAN, 0xFFFF, 0x0000, NWK_LEAVE),                                       # 10
        disassociation_notification_frame(0x16, PAN, CH_EUI, GSME_EUI, 2),                     # 11
        orphan_notification_frame(0x17, GSME_EUI),                                             # 12
        coordinator_realignment_frame(0x21, PAN, CH_EUI, 0x0001, 15, 0x4B2A, GSME_EUI),        # 13
    ]
    path = tmp_path / "mac.pcap"
    write_pcap(path, [encode_mac(f) for f in frames])
    rows = tshark_fields(path)
    assert len(rows) == len(frames)
    assert tshark_warnings(path) == ""
    for row, frame in zip(rows, frames):
        assert row["wpan.fcs_ok"] in ("1", "True"), row
        assert row["_ws.malformed"] == "", row
        assert row["_ws.expert.severity"] == "" or int(row["_ws.expert.severity"], 0) < 0x00600000, row
        assert int(row["wpan.frame_type"], 0) == frame.frame_type, row
        assert int(row["wpan.seq_no"]) == frame.seq, row
        if frame.command_id is not None:
            assert int(row["wpan.cmd"], 0) == frame.command_id, row
    r = {i + 1: row for i, row in enumerate(rows)}
    assert r[1]["wpan.dst16"] == "0x0000" and r[1]["wpan.src16"] == "0x4b2a"
    assert r[1]["wpan.ack_request"] in ("1", "True")
    assert r[10]["wpan.dst16"] == "0xffff" and r[10]["wpan.ack_request"] in ("0", "False")
    assert r[7]["wpan.pending"] in ("1", "True")
    # beacon + ZigBee beacon payload
    assert r[4]["wpan.assoc_permit"] in ("1", "True") and r[4]["wpan.bcn_coord"] in ("1", "True")
    assert int(r[4]["zbee_beacon.protocol"], 0) == 0
    assert int(r[4]["zbee_beacon.profile"], 0) == 2
    assert int(r[4]["zbee_beacon.version"], 0) == 2
    assert r[4]["zbee_beacon.router"] in ("1", "True") and r[4]["zbee_beacon.end_dev"] in ("1", "True")
    assert int(r[4]["zbee_beacon.depth"], 0) == 0
    assert r[4]["zbee_beacon.ext_panid"] == "00:12:4b:00:01:02:03:04"
    assert int(r[4]["zbee_beacon.tx_offset"], 0) == 0xFFFFFF
    assert int(r[4]["zbee_beacon.update_id"], 0) == 3
    # association
    assert r[5]["wpan.src64"] == "00:12:4b:00:aa:bb:cc:dd" and r[5]["wpan.cinfo.alloc_addr"] in ("1", "True")
    assert r[6]["wpan.src64"] == "00:12:4b:00:aa:bb:cc:dd"
    assert r[8]["wpan.dst64"] == "00:12:4b:00:aa:bb:cc:dd" and r[8]["wpan.src64"] == "00:12:4b:00:01:02:03:04"
    assert int(r[8]["wpan.assoc.status"], 0) == 0
    assert r[9]["wpan.src16"] == "0x4b2a"
    assert int(r[11]["wpan.disassoc.reason"], 0) == 2
    # wpan.realign.addr names both short-address fields; the first is the coordinator's.
    assert r[13]["wpan.realign.addr"] == "0x0001" and r[13]["wpan.realign.pan"] == "0x1a62"
    assert r[13]["wpan.realign.channel"] == "15" and r[13]["wpan.dst64"] == "00:12:4b:00:aa:bb:cc:dd"


def test_tshark_flags_corrupted_fcs(tmp_path):
    good = encode_mac(data_frame(1, PAN, 0x0000, 0x4B2A, NWK_LEAVE))
    bad = bytearray(good)
    bad[-3] ^= 0x20
    path = tmp_path / "bad.pcap"
    write_pcap(path, [good, bytes(bad)])
    rows = tshark_fields(path)
    assert rows[0]["wpan.fcs_ok"] in ("1", "True")
    assert rows[1]["wpan.fcs_ok"] in ("0", "False")


# --- frames produced by the MAC machine itself ---------------------------------------------

class _Air:
    """A minimal medium: everyone hears everyone at the end of the airtime; keeps a pcap log."""

    def __init__(self, clock):
        self.clock = clock
        self.macs = {}
        self.rx = {}
        self.log = []

    def port(self, name):
        air = self

        class Port:
            def transmit(self, psdu):
                t = (len(psdu) + 6) * 32e-6
                air.log.append((air.clock.seconds(), psdu))
                air.clock.callLater(t, air.deliver, name, psdu)
                return t

            def channel_busy_since(self, t):
                return False

            def set_rx_enabled(self, on):
                air.rx[name] = on

        return Port()

    def deliver(self, sender, psdu):
        for name, mac in self.macs.items():
            if name != sender and self.rx.get(name):
                mac.frame_received(psdu)


class _Upper:
    def __init__(self):
        self.events = []

    def __getattr__(self, name):
        def record(*args):
            self.events.append((name,) + args)
            return (0x4B2A, 0) if name == "mlme_associate_indication" else None
        return record


def test_tshark_pairs_every_ack_of_a_mac_join(tmp_path):
    import random

    from twisted.internet.task import Clock

    from protocols.ieee802154 import MacLayer
    clock = Clock()
    air = _Air(clock)
    ch_user, gsme_user = _Upper(), _Upper()
    ch = MacLayer(clock, random.Random(1), air.port("ch"), CH_EUI, ch_user, rx_on_when_idle=True, pan_coordinator=True)
    gsme = MacLayer(clock, random.Random(2), air.port("gsme"), GSME_EUI, gsme_user, rx_on_when_idle=False)
    air.macs = {"ch": ch, "gsme": gsme}
    ch.mlme_start(PAN, 0x0000, encode_zigbee_beacon_payload(ZigbeeBeaconPayload(CH_EUI)))
    ch.set_association_permit(True)

    def step(seconds):
        end = clock.seconds() + seconds
        while clock.getDelayedCalls() and min(c.getTime() for c in clock.getDelayedCalls()) <= end:
            clock.advance(max(min(c.getTime() for c in clock.getDelayedCalls()) - clock.seconds(), 0))
        clock.advance(end - clock.seconds())

    gsme.mlme_scan_request(0.1)
    step(0.2)
    gsme.mlme_associate_request(0x0000, PAN, 0x80)
    step(1.0)
    ch.mcps_data_request(0x4B2A, NWK_LEAVE, indirect=True)
    gsme.mlme_poll_request()
    step(0.2)
    gsme.mlme_poll_request()
    step(0.2)
    assert ("mlme_associate_confirm", 0x4B2A, 0) in gsme_user.events

    path = tmp_path / "mac_join.pcap"
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_IEEE802_15_4_WITHFCS))
        for t, psdu in air.log:
            f.write(struct.pack("<IIII", 1_700_000_000 + int(t), round((t % 1) * 1e6), len(psdu), len(psdu)))
            f.write(psdu)
    assert tshark_warnings(path) == ""
    cmd = ["tshark", "-2", "-n", "-r", str(path), "-o", "wpan.802154_ack_tracking:TRUE", "-T", "fields",
           "-e", "frame.number", "-e", "wpan.frame_type", "-e", "wpan.ack_request", "-e", "wpan.ack_in",
           "-e", "wpan.ack_to", "-e", "wpan.cmd", "-e", "wpan.fcs_ok", "-e", "wpan.pending"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert len(rows) == len(air.log)
    commands = []
    for number, ftype, ack_request, ack_in, ack_to, command, fcs_ok, pending in rows:
        assert fcs_ok in ("1", "True")
        if ack_request in ("1", "True"):
            assert ack_in, f"frame {number}: tshark found no Ack"
        if int(ftype, 0) == 2:
            assert ack_to, f"Ack {number} answers nothing"
        if command:
            commands.append(int(command, 0))
    # Beacon Request, Association Request, Data Request, Association Response, then two polls
    assert commands == [0x07, 0x01, 0x04, 0x02, 0x04, 0x04]
    pendings = [r[7] for r in rows if int(r[1], 0) == 2]
    assert pendings.count("1") + pendings.count("True") == 2    # Acks to the two polls that found data
