"""PPMID and HCALCS as HAN devices: the PPMID reads the ESME's Prepayment cluster (credit,
emergency credit, debt from the ESME's GBCS prepayment balances) and Price on the air and
answers the PPMID use cases the CHF routes to it; the HCALCS's switch follows the ESME's
auxiliary controller, which the DCC's ECS47 command drives, over ZCL On/Off (tshark decodes
every frame; 0 malformed); the ESME's auxiliary controllers as GBCS state."""

from __future__ import annotations

import pytest

from emulator.clock import VirtualClock
from emulator.dcc.devices import install_device_logic
from emulator.devices.gbcs import auxload
from emulator.devices.gbcs.cosem import OBJECT_UNDEFINED, SUCCESS, TYPE_UNMATCHED, ObjectModel
from emulator.devices.gbcs.device import dlms_date_time
from emulator.devices.hcalcs import CLUSTER_ON_OFF, HCALCS_ENDPOINT
from emulator.estate import Estate
from emulator.topology import TopologyError, parse_topology
from protocols.gbcs import GbcsCrypto, KeyStore, decode_message
from protocols.gbcs.payloads import dlms
from protocols.zcl.frame import DIRECTION_CLIENT_TO_SERVER

from tests.conftest import KEYSTORE, RTDS, needs
from tests.han_helpers import SINGLE_HOME, needs_tshark, run_estate, tshark_fields

PPMID_EUI, HCALCS_EUI, ESME_EUI = 0x00DB1234567890A4, 0x00DB1234567890A5, 0x00DB1234567890A0

HOME = """
name: t
start_time: "2015-01-01T00:00:00Z"
homes:
  - name: home-1
    han: {channel: 20}
    devices:
      - {kind: CH, name: ch, eui64: "00DB1234567890A2", gpf_eui64: "00DB1234567890A3"}
      - {kind: ESME, name: esme, eui64: "00DB1234567890A0"}
      - {kind: PPMID, name: ppmid, eui64: "00DB1234567890A4", read_interval: 30}
      - {kind: HCALCS, name: hcalcs, eui64: "00DB1234567890A5"}
"""


def _rtds(folder: str, name: str) -> bytes:
    return bytes.fromhex("".join((RTDS / folder / name).read_text().split()))


def _estate(tmp_path, seed: int = 3):
    topology = parse_topology(HOME, "t.yaml", seed)
    clock = VirtualClock(start=topology.start_time)
    est = Estate(topology, clock, seed, pcap_path=str(tmp_path / "han.pcapng"),
                 keys_path=str(tmp_path / "zigbee_pc_keys"))
    keystore = KeyStore(str(KEYSTORE))
    install_device_logic(est, keystore, seed)
    est.start()
    clock.run_until(topology.start_time + 60)
    return est, clock, est.homes[0], GbcsCrypto(keystore)


@needs_tshark
@needs(RTDS, KEYSTORE)
def test_ecs47_switches_the_hcalcs_over_on_off_for_its_duration(tmp_path):
    est, clock, home, crypto = _estate(tmp_path)
    hub, esme, hcalcs = home.nodes["ch"], home.nodes["esme"], home.nodes["hcalcs"]
    assert hcalcs.key_established() and not hcalcs.on
    # the DCC's ECS47 activate command (controller 1 on for 30 minutes), through the CHF
    command = _rtds("7.5_ECS47Activate", "ECS47Activate_7.5_SUCCESS_COMMAND_GBCS.HEX")
    assert hub.chf_tunnel.from_wan(command) == "pushed"
    clock.run_until(clock.seconds() + 20)
    aux = esme.tunnel.application.aux
    assert aux.level(1) == 100 and hcalcs.on
    # (besides the CHF's CS14 device log back-ups after the devices' CBKE)
    [response] = [m for m in (decode_message(m, crypto) for m in hub.chf_tunnel.wan_messages)
                  if m.frame.signing.message_code != 0x0018]
    assert response.frame.signing.message_code == 0x0055 and response.frame.signing.originator == ESME_EUI
    assert all(r["result"] == SUCCESS for r in response.payload["access_response_specification"])
    clock.run_until(clock.seconds() + 29 * 60)
    assert hcalcs.on
    clock.run_until(clock.seconds() + 2 * 60)          # the 30 minutes are over
    assert aux.level(1) == 0 and not hcalcs.on and hcalcs.switch_changes == 2
    est.close()
    esme_short, hcalcs_short = esme.stack.short, hcalcs.stack.short
    rows = tshark_fields(tmp_path, ["wpan.src16", "wpan.dst16", "zbee_zcl_general.onoff.cmd.srv_rx.id",
                                    "_ws.malformed"], "zbee_aps.cluster == 0x0006 || _ws.malformed")
    assert rows and not any(r[3] for r in rows)
    commands = [(int(r[0], 16), int(r[1], 16), int(r[2], 16)) for r in rows if r[2]]
    # On then Off, from the ESME to the HCALCS (MAC retransmissions show the same command again)
    assert {c[:2] for c in commands} == {(esme_short, hcalcs_short)}
    ids = [c[2] for c in commands]
    assert ids[0] == 0x01 and ids[-1] == 0x00 and set(ids) == {0x00, 0x01}


@needs(RTDS, KEYSTORE)
def test_hcalcs_takes_on_off_only_from_its_esme(tmp_path):
    est, clock, home, _crypto = _estate(tmp_path)
    ppmid, hcalcs = home.nodes["ppmid"], home.nodes["hcalcs"]
    answers = []
    frame = ppmid.cluster_command(CLUSTER_ON_OFF, DIRECTION_CLIENT_TO_SERVER, "On")
    ppmid.request(hcalcs.stack.short, HCALCS_ENDPOINT, 0x01, CLUSTER_ON_OFF, frame, lambda ind, f: answers.append(f))
    clock.run_until(clock.seconds() + 10)
    assert answers and answers[0] is not None and answers[0].payload == bytes((0x01, 0x7E))   # NOT_AUTHORIZED
    assert not hcalcs.on and hcalcs.commands_refused == 1
    est.close()


@needs_tshark
@needs(RTDS, KEYSTORE)
def test_ppmid_reads_the_esme_prepayment_state_on_the_air(tmp_path):
    est, clock, home, _crypto = _estate(tmp_path)
    esme, ppmid = home.nodes["esme"], home.nodes["ppmid"]
    model = esme.tunnel.application.model
    model.objects[(1, "0-0:94.44.34.30")].attributes[2] = dlms.structure(
        *(dlms.make_data("double-long", v) for v in (1234, 500, 77, 0, 0, 0)))
    clock.run_until(clock.seconds() + 65)
    assert ppmid.credit == {"credit": 1234, "emergency_credit": 500, "debt": 77, "status": 0x01}
    assert ppmid.prices >= 1 and ppmid.unit_rate_p_per_kwh == pytest.approx(24.5)
    model.objects[(1, "0-0:94.44.34.30")].attributes[2] = dlms.structure(
        *(dlms.make_data("double-long", v) for v in (0, 300, 77, 0, 0, 0)))
    clock.run_until(clock.seconds() + 35)
    assert ppmid.credit["credit"] == 0 and ppmid.credit["status"] == 0x40 | 0x20   # exhausted, emergency in use
    est.close()
    rows = tshark_fields(tmp_path, ["zbee_zcl.cmd.id", "zbee_zcl_se.pp.attr_id", "zbee_zcl.attr.int32",
                                    "zbee_zcl.attr.bitmap8", "_ws.malformed"],
                         "zbee_aps.cluster == 0x0705 || _ws.malformed")
    assert rows and not any(r[4] for r in rows)
    # Read Attributes Responses as tshark reads them: CreditRemaining, EmergencyCreditRemaining,
    # AccumulatedDebt (int32) and CreditStatus (bitmap8)
    shown = {(r[2], r[3]) for r in rows if r[0] == "0x01" and r[1] == "0x0001,0x0002,0x0003,0x0005"}
    assert {("1234,500,77", "0x01"), ("0,300,77", "0x60")} <= shown


@needs(RTDS, KEYSTORE)
def test_ppmid_answers_its_gbcs_use_case_routed_by_the_chf(tmp_path):
    est, clock, home, crypto = _estate(tmp_path)
    hub = home.nodes["ch"]
    command = _rtds("11.2_CS08", "CS08_11.2_SUCCESS_COMMAND_GBCS.HEX")
    target = decode_message(command, crypto).frame.signing.recipient
    assert target in (PPMID_EUI, HCALCS_EUI)
    assert hub.chf_tunnel.from_wan(command) == "pushed"
    clock.run_until(clock.seconds() + 20)
    reference = decode_message(_rtds("11.2_CS08", "CS08_11.2_SUCCESS_RESPONSE_GBCS.HEX"), crypto)
    answers = [m for m in (decode_message(m, crypto) for m in hub.chf_tunnel.wan_messages)
               if m.frame.signing.message_code != 0x0018]      # not the CHF's CS14 back-ups
    assert [a.frame.signing.message_code for a in answers] == [reference.frame.signing.message_code]
    assert answers[0].frame.signing.originator == target
    assert home.nodes["ppmid" if target == PPMID_EUI else "hcalcs"].tunnel.sent == 1
    est.close()


def test_single_home_esme_serves_no_prepayment_without_a_ppmid(tmp_path):
    est = run_estate(tmp_path, SINGLE_HOME.read_text(), 1, 20.0, pcap=False)
    esme = est.homes[0].nodes["esme"]
    assert (1, 0x0705) not in esme.servers
    assert not hasattr(esme, "hcalcs_driver")


def test_topology_options_of_the_new_kinds():
    assert parse_topology(HOME, "t.yaml", 1).homes[0].devices[3].kind == "HCALCS"
    with pytest.raises(TopologyError, match=r"t.yaml:\d+: .*controller must be 1-5"):
        parse_topology(HOME.replace('"00DB1234567890A5"}', '"00DB1234567890A5", controller: 6}'), "t.yaml", 1)
    with pytest.raises(TopologyError, match=r"unknown key 'read_interval'"):
        parse_topology(HOME.replace('"00DB1234567890A5"}', '"00DB1234567890A5", read_interval: 6}'), "t.yaml", 1)


class _Clock:
    def __init__(self):
        self.t = 1_000_000.0
        self.calls = []

    def seconds(self):
        return self.t

    def callLater(self, delay, f, *a):
        clock = self

        class Call:
            def __init__(self):
                self.at, self.live = clock.t + delay, True

            def active(self):
                return self.live

            def cancel(self):
                self.live = False

        call = Call()
        self.calls.append((call, f, a))
        return call

    def advance(self, dt):
        self.t += dt
        for call, f, a in sorted(list(self.calls), key=lambda c: c[0].at):
            if call.live and call.at <= self.t:
                call.live = False
                f(*a)


def _controllers():
    model = ObjectModel()
    for n in auxload.CONTROLLERS:
        for i in (1, 2):
            model.add(1, f"0-0:94.44.{116 + n}.{i}")
        model.add(1, auxload.device_id_obis(n))
    clock = _Clock()
    aux = auxload.AuxiliaryControllers(model, clock)
    changes = []
    aux.listeners.append(lambda n, level: changes.append((n, level)))
    return model, clock, aux, changes


def test_auxiliary_controllers_activate_reset_and_output_level():
    model, clock, aux, changes = _controllers()
    model.objects[(1, "0-0:94.44.119.1")].attributes[2] = dlms.make_data("long-unsigned", 10)
    assert aux.execute(auxload.script_id(3, auxload.ACTIVATE)) == SUCCESS
    assert aux.level(3) == 100 and changes == [(3, 100)]
    assert aux.execute(auxload.script_id(3, auxload.RESET)) == SUCCESS          # back to the calendar
    assert aux.level(3) == 0
    clock.advance(11 * 60)                                                     # the cancelled end does nothing
    assert changes == [(3, 100), (3, 0)]
    # ECS47a: controller 2 at 40 % from +1 h to +2 h
    model.objects[(1, "0-0:94.44.118.1")].attributes[2] = dlms.octet_string(dlms_date_time(clock.t + 3600))
    model.objects[(1, "0-0:94.44.118.2")].attributes[2] = dlms.octet_string(dlms_date_time(clock.t + 7200))
    assert aux.execute(auxload.script_id(2, 40, auxload.KIND_OUTPUT)) == SUCCESS
    assert aux.level(2) == 0
    clock.advance(3600)
    assert aux.level(2) == 40
    clock.advance(3600)
    assert aux.level(2) == 0
    # bad selectors: no controller 7, a level over 100 %, an activation without its duration
    assert aux.execute(auxload.script_id(7, auxload.ACTIVATE)) == OBJECT_UNDEFINED
    assert aux.execute(auxload.script_id(2, 101, auxload.KIND_OUTPUT)) == TYPE_UNMATCHED
    model.objects[(1, "0-0:94.44.117.1")].attributes[2] = dlms.octet_string(dlms_date_time(clock.t))
    assert aux.execute(auxload.script_id(1, auxload.ACTIVATE)) == TYPE_UNMATCHED
    assert aux.level(1) == 0
    # the controller's device id names the HCALCS it drives
    model.objects[(1, auxload.device_id_obis(4))].attributes[2] = dlms.octet_string(HCALCS_EUI.to_bytes(8, "big"))
    assert aux.device_eui(4) == HCALCS_EUI and aux.device_eui(5) == 0
