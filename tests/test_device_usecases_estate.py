"""Load limiting in the running estate: the ESME's GBCS logic follows the household load model,
and when the demand stays above the configured threshold its alerts cross the HAN tunnel, the
CH and the WAN and reach the supplier at the DCC."""

from __future__ import annotations

from emulator.clock import VirtualClock
from emulator.dcc import build_host
from emulator.dcc.config import load_dcc_config
from emulator.dcc.devices import install_device_logic
from emulator.dcc.estate import EstateWan
from emulator.devices.gbcs import supply
from emulator.estate import Estate
from emulator.topology import load_topology
from protocols.duis.response import parse_response
from protocols.gbcs import GbcsCrypto, decode_message
from protocols.gbcs.payloads import dlms

from tests.duis_helpers import ESME, RTDS_HOME, SUPPLIER, require_shared


def _estate(seed: int = 1):
    topology = load_topology(str(RTDS_HOME), seed)
    clock = VirtualClock(start=topology.start_time)
    config = load_dcc_config(topology, seed)
    host = build_host(config, clock, seed=seed)
    est = Estate(topology, clock, seed)
    est.wan = EstateWan(host.broker, est, clock, seed)     # the CSP network the alerts cross
    install_device_logic(est, config.keystore, seed)
    est.start()
    return est, host, config.keystore


def test_load_limit_alert_from_the_load_model_reaches_the_supplier():
    require_shared()
    est, dcc, home_keys = _estate()
    clock = est.clock
    clock.run_until(clock.seconds() + 60)
    home = est.homes[0]
    [node] = [n for n in home.nodes.values() if n.spec.kind == "ESME"]
    esme = node.tunnel.application
    assert esme.eui == ESME
    # configured as ECS28a leaves it: a threshold any household exceeds, a 30 s period
    model = esme.model
    for obis, value in ((supply.LOAD_LIMIT_THRESHOLD, 1), (supply.LOAD_LIMIT_PERIOD, 30),
                        (supply.LOAD_LIMIT_RESTORATION, 600)):
        model.objects[(9000, obis)].attributes[2] = dlms.make_data("double-long", value)
    clock.run_until(clock.seconds() + 120)
    assert esme.load_limiter.triggers == 1
    # the supplier's first alert is the ESME's (the CH's CS14 device log back-ups stay with the DCC)
    xml = dcc.alerts(SUPPLIER, 0)
    assert xml
    # the ESME signs with its own key, which the DCC's key store holds (provisioning)
    msg = decode_message(parse_response(xml).gbcs_payload, GbcsCrypto(home_keys))
    body = msg.payload["notification_body"]["value"]
    assert msg.frame.signing.originator == ESME and body[0]["value"] == supply.ALERT_LOAD_LIMIT_THRESHOLD
    assert msg.verification.signature == "verified"
    est.close()
