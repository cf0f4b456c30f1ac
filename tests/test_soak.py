"""The soak: workload files, topology templates and faults, the DUIS requests the simulated Users
send (against the DCC's request samples), a small soak end to end (ledger, report, determinism)
and the command line's one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lxml import etree

from emulator.impairments import ImpairmentPath, ImpairmentSpec
from emulator.rng import derive_rng
from emulator.soak import cli
from emulator.soak.faults import apply_cli_faults, parse_outage
from emulator.soak.requests import KINDS, build_request
from emulator.soak.workload import WorkloadError, load_workload, parse_workload
from emulator.topology import TopologyError, load_topology, parse_topology
from protocols.duis.request import SR
from tests.conftest import KEYSTORE, REPO, SOAK_DCC, TEMPLATES, needs
from tests.duis_helpers import keystore

TOPOLOGIES = REPO / "topologies"

# --- workloads ------------------------------------------------------------------------------------

GOOD = """\
name: w
users:
  - {name: supplier, share: 2}
per_home:
  on_demand_read: {per_hour: 1}
  daily_read: {per_day: 1, window_start: 3600, window: 600}
consumer_events:
  - {device: GSME, alert: "81C3", per_hour: 0.5}
"""


def test_shipped_workloads_load():
    for path in sorted(TOPOLOGIES.glob("workload-*.yaml")):
        w = load_workload(str(path))
        assert w.users and (w.per_home or w.consumer_events), path


def test_workload_parses():
    w = parse_workload(GOOD, "w.yaml")
    assert w.users == (("supplier", 2.0),)
    assert w.per_home["on_demand_read"].per_hour == 1.0
    assert (w.per_home["daily_read"].per_day, w.per_home["daily_read"].window) == (1, 600.0)
    assert (w.consumer_events[0].device, w.consumer_events[0].alert) == ("GSME", 0x81C3)


@pytest.mark.parametrize("old,new,line,words", [
    ("on_demand_read: {per_hour: 1}", "on_demand_red: {per_hour: 1}", 5,
     "per_home.on_demand_red: unknown request kind"),
    ("{per_hour: 1}", "{per_hour: -1}", 5, "per_home.on_demand_read.per_hour must be >= 0"),
    ("{per_hour: 1}", "{per_hour: 1, per_day: 2}", 5, "exactly one of per_hour or per_day"),
    ("window: 600}", "window: 86000}", 6, "within the day"),
    ("share: 2}", "share: 0}", 3, "users[0].share must be > 0"),
    ("share: 2}", "share: two}", 3, "users[0].share must be int or float"),
    ('alert: "81C3"', 'alert: "81C"', 8, "consumer_events[0].alert must be a GBCS alert code"),
    ("device: GSME", "device: IHD", 8, "consumer_events[0].device 'IHD' is not one of ESME, GSME"),
    ("name: w\n", "name: w\nspeed: 3\n", 2, "unknown key 'speed' in the workload"),
])
def test_workload_errors_name_the_field_and_line(old, new, line, words):
    with pytest.raises(WorkloadError) as info:
        parse_workload(GOOD.replace(old, new, 1), "w.yaml")
    message = str(info.value)
    assert message.startswith(f"w.yaml:{line}: ") and words in message and "\n" not in message


def test_workload_without_users_or_requests():
    with pytest.raises(WorkloadError, match="users"):
        parse_workload("name: w\nper_home: {top_up: {per_hour: 1}}\n", "w.yaml")
    with pytest.raises(WorkloadError, match="asks for nothing"):
        parse_workload("users: [{name: supplier}]\n", "w.yaml")


# --- topology templates, parameters, faults ----------------------------------------------------------

TEMPLATED = """\
name: t
parameters: {n: 3}
templates:
  home:
    csp: south
    devices:
      - {kind: CH, name: ch}
      - {kind: ESME, name: esme}
homes:
  - {template: home, count: n, prefix: a-}
  - {template: home, count: 2, prefix: b-, csp: north}
  - name: solo
    devices: [{kind: CH, name: ch}]
"""


def test_templates_make_homes_and_parameters_set_counts():
    t = parse_topology(TEMPLATED, "t.yaml", 1)
    assert [(h.name, h.csp) for h in t.homes] == [("a-0001", "south"), ("a-0002", "south"), ("a-0003", "south"),
                                                  ("b-0001", "north"), ("b-0002", "north"), ("solo", "centre")]
    assert len({d.eui64 for h in t.homes for d in h.devices}) == 11        # every device its own EUI-64
    assert [h.name for h in parse_topology(TEMPLATED, "t.yaml", 1, {"n": 1}).homes][:2] == ["a-0001", "b-0001"]


@pytest.mark.parametrize("old,new,words", [
    ("count: n,", "count: m,", "count 'm' is not a parameter"),
    ("template: home, count: 2", "template: flat, count: 2", "template 'flat' is not a template"),
    ("count: 2,", "count: -2,", "count must be an int >= 0"),
    ("count: 2,", "count: 2, colour: red,", "unknown key 'colour'"),
])
def test_template_errors(old, new, words):
    with pytest.raises(TopologyError, match=re.escape(words)):
        parse_topology(TEMPLATED.replace(old, new, 1), "t.yaml", 1)


def test_unknown_parameter_override_is_an_error():
    with pytest.raises(TopologyError, match="parameter 'homes' is not in the topology's parameters"):
        parse_topology(TEMPLATED, "t.yaml", 1, {"homes": 4})


def test_shipped_big_topologies():
    t = load_topology(str(TOPOLOGIES / "street-100.yaml"), 3)
    assert len(t.homes) == 100 and {h.csp for h in t.homes} == {"north"}
    assert all([d.kind for d in h.devices] == ["CH", "ESME", "GSME", "IHD"] for h in t.homes)
    g = load_topology(str(TOPOLOGIES / "gb-regions.yaml"), 1, {"homes_per_region": 4})
    assert [sum(h.csp == c for h in g.homes) for c in ("north", "centre", "south")] == [4, 4, 4]
    assert {f.kind for f in g.faults} == {"wan_latency", "han_burst", "gsme_battery"}


@pytest.mark.parametrize("fault,words", [
    ("{kind: quake, at: 1}", "faults[0].kind 'quake' is not a fault"),
    ("{kind: wan_outage, at: 1, length: 5}", "faults[0].csp is missing"),
    ("{kind: wan_outage, at: 1, length: 5, csp: east}", "faults[0].csp 'east' is not a CSP"),
    ("{kind: han_loss, at: 1, length: 5, loss: 1.5}", "faults[0].loss must be a probability"),
    ("{kind: han_loss, at: 1, loss: 0.5}", "faults[0].length is missing"),
    ("{kind: gsme_battery, at: 1, homes: [nowhere]}", "no home 'nowhere'"),
])
def test_fault_errors(fault, words):
    with pytest.raises(TopologyError, match=re.escape(words)):
        parse_topology(TEMPLATED + f"faults:\n  - {fault}\n", "t.yaml", 1)


def test_cli_faults_fold_into_the_topology():
    t = parse_topology(TEMPLATED, "t.yaml", 1)
    assert parse_outage("north:36000:7200", t.csps) == ("north", 36000.0, 7200.0)
    for bad in ("north:1", "east:1:2", "north:x:2", "north:5:0"):
        with pytest.raises(ValueError):
            parse_outage(bad, t.csps)
    f = apply_cli_faults(t, han_loss=0.05, wan_loss=0.01, outages=[("north", 10.0, 20.0)])
    assert all(h.impairments.loss == 0.05 for h in f.homes)
    assert f.csps["north"].impairments.outages == ((10.0, 20.0),) and f.csps["south"].impairments.loss == 0.01


def test_an_impairment_path_changes_spec_mid_run():
    path = ImpairmentPath(None, derive_rng(1, "t"))
    assert path.decide(0.0, 10)
    path.set_spec(ImpairmentSpec(loss=1.0))
    assert path.decide(1.0, 10) == [] and path.counts["loss"] == 1
    path.set_spec(None)
    assert path.decide(2.0, 10) and path.counts["sent"] == 3


# --- the Users' requests against the DCC's samples ------------------------------------------------------

_SAMPLES = {"on_demand_read": "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML",
            "daily_read": "ECS21a_4.6.1_SINGLE_SUCCESS_REQUEST_DUIS.XML",
            "gas_read": "GCS14_4.3_SUCCESS_RELIABLE_GSME_REQUEST_DUIS.XML",
            "tariff_update": "ECS01b_1.2.1_IMMEDIATE_BLOCK_SUCCESS_REQUEST_DUIS.XML",
            "top_up": "CS01a_2.2_SUCCESS_REQUEST_DUIS.XML"}


def _shape(root) -> list:
    """Header values (but the RequestID) and the Body's element paths and attributes."""
    header = [(el.tag, el.text) for el in root.find(f"{{{SR}}}Header") if not el.tag.endswith("RequestID")]
    body = root.find(f"{{{SR}}}Body")
    paths = [(body.getroottree().getelementpath(el).split("Body", 1)[1], sorted(el.attrib.items()))
             for el in body.iter() if isinstance(el.tag, str)]
    return [header, paths]


@needs(TEMPLATES, KEYSTORE)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_requests_have_the_shape_of_the_dcc_samples(kind):
    from protocols.duis import xmldsig
    from protocols.gbcs import GbcsCrypto
    from protocols.gbcs.utrn import generate_utrn
    ks = keystore()
    supplier, esme = 0x90B3D51F30010000, 0x00DB1234567890A0
    crypto = GbcsCrypto(ks)
    data = build_request(KINDS[kind], supplier, esme, 4242, derive_rng(1, kind), 1.77e9, ks.private_key(supplier, "ds"),
                         ks.certificate(supplier, "ds"),
                         utrn=lambda u, d, c, pence: generate_utrn(crypto, u, d, c, 0, pence))
    ours = etree.fromstring(data)
    sample = etree.fromstring((TEMPLATES / _SAMPLES[kind]).read_bytes())
    assert _shape(ours) == _shape(sample)
    assert ours.get("schemaVersion") == sample.get("schemaVersion")
    xmldsig.verify(ours, ks.public_key(supplier, "ds"))          # signed by the User


# --- a small soak end to end --------------------------------------------------------------------------

SMALL = """\
name: small-soak
start_time: "2026-03-02T00:00:00Z"
parameters: {homes: 2}
templates:
  dual-fuel:
    csp: north
    devices:
      - {kind: CH, name: ch}
      - {kind: ESME, name: esme}
      - {kind: GSME, name: gsme, wake_interval: 1800}
      - {kind: IHD, name: ihd, read_interval: 60, gas_read_interval: 600}
homes:
  - {template: dual-fuel, count: homes, prefix: h-}
faults:
  - {kind: han_burst, at: 600, length: 900}
  - {kind: wan_latency, csp: north, at: 1500, length: 900, delay: 3}
  - {kind: gsme_battery, at: 2400}
""" + SOAK_DCC

BUSY = """\
name: test-busy
users:
  - {name: supplier, share: 3}
  - {name: network-operator, share: 1}
per_home:
  on_demand_read: {per_hour: 4}
  daily_read: {per_day: 1, window_start: 0, window: 3600}
  gas_read: {per_hour: 1}
  tariff_update: {per_hour: 1}
  top_up: {per_hour: 1}
consumer_events:
  - {device: ESME, alert: "8F35", per_hour: 1}
"""

ARGS = ["--duration", "10800", "--seed", "5", "--han-loss", "0.05", "--wan-loss", "0.02",
        "--outage", "north:5400:1800", "--no-progress"]


@pytest.fixture(scope="module")
def soak_files(tmp_path_factory):
    base = tmp_path_factory.mktemp("soak")
    topology = base / "small.yaml"
    topology.write_text(SMALL.replace("KEYS", str(KEYSTORE)))
    workload = base / "busy.yaml"
    workload.write_text(BUSY)
    return base, topology, workload


@pytest.fixture(scope="module")
def soak_reports(soak_files):
    """The same small soak twice through the command line: three virtual hours of two homes
    with HAN and WAN loss, a 30-minute outage of their CSP, a HAN burst, WAN latency, GSME faults."""
    if not KEYSTORE.is_dir():
        pytest.skip("no key store")   # (the tests using this fixture carry the needs() mark: CI fails)
    base, topology, workload = soak_files
    out = []
    for name in ("a", "b"):
        pcap = ["--pcap", str(base / "b.pcapng")] if name == "b" else []
        status = cli.main(["--topology", str(topology), "--workload", str(workload), "--report", str(base / name),
                           *ARGS, *pcap])
        out.append((status, json.loads((base / name / "report.json").read_text()),
                    (base / name / "report.html").read_text()))
    return out


@needs(KEYSTORE)
def test_small_soak_accounts_for_every_request(soak_reports):
    status, report, _html = soak_reports[0]
    led = report["ledger"]
    assert status == 0
    assert led["submitted"] >= 25
    assert led["submitted"] == led["ok"] + led["failed"] + led["timed_out"]
    assert led["lost"] == led["duplicated"] == led["in_flight"] == led["unexpected"] == 0
    assert led["ok"] > led["submitted"] // 2
    # the outage shows: requests sent while the CSP's WAN was down and answered late or not at all
    assert led["timed_out"] > 0 and report["availability"]["north"]["sampled_up"] < 1.0
    # every kind went through, the critical tariff update included (pre-command signed by the User)
    assert {k for k, v in report["by_kind"].items() if v.get("ok")} == set(KINDS)
    assert report["alerts"]["raised"] > 0 and report["alerts"]["missing"] == 0
    assert sum(report["latency"]["counts"]) == led["ok"]
    # WAN loss and the outage make the SMWAN retransmit, both ways
    smwan = report["retries"]["smwan"]["north"]
    assert smwan["retransmitted_frames_down"] > 0 and smwan["retransmitted_frames_up"] > 0
    assert [f["kind"] for f in report["faults"] if f["event"] == "start"] == ["han_burst", "wan_latency"]


@needs(KEYSTORE)
def test_same_seed_same_ledger(soak_reports):
    (_, a, _), (_, b, _) = soak_reports
    assert a["ledger"] == b["ledger"] and a["by_kind"] == b["by_kind"] and a["latency"] == b["latency"]


@needs(KEYSTORE)
def test_the_capture_has_every_han_and_the_wan(soak_reports, soak_files):
    data = (soak_files[0] / "b.pcapng").read_bytes()
    assert data[:4] == b"\x0a\x0d\x0d\x0a"
    assert b"h-0001-han" in data and b"h-0002-han" in data and b"smwan-north" in data


@needs(KEYSTORE)
def test_a_missing_or_second_response_shows_in_the_ledger(soak_files):
    """The ledger is the Users' view: a response their endpoint never got is lost, one it got
    twice is duplicated (whatever the ACB's own bookkeeping says)."""
    from emulator.soak.runner import SoakRun
    _, topology_path, workload_path = soak_files
    topology = load_topology(str(topology_path), 2, {"homes": 1})
    workload = parse_workload(BUSY.replace("per_hour: 4}", "per_hour: 30}"), "w.yaml")
    run = SoakRun(topology, workload, 2)
    deliver, seen = run.host.deliver, []

    def flaky(user, xml):
        from protocols.duis.response import parse_response
        if parse_response(xml).request_id is None:      # a device alert (the CH's CS14 back-ups)
            deliver(user, xml)
            return
        seen.append(xml)
        if len(seen) == 2:
            return                      # the second response never reaches the User
        deliver(user, xml)
        if len(seen) == 3:
            deliver(user, xml)          # the third arrives twice
    run.host.deliver = flaky
    run.run(900, progress=False)
    run.close()
    led = run.ledger()
    assert led["lost"] == 1 and led["duplicated"] == 1 and led["in_flight"] == 0
    assert led["submitted"] == led["ok"] + led["failed"] + led["timed_out"] + led["lost"]


@needs(KEYSTORE)
def test_the_html_report_has_the_plots(soak_reports):
    html = soak_reports[0][2]
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 5
    for svg in svgs:
        root = etree.fromstring(svg.encode())
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.findall(".//{http://www.w3.org/2000/svg}rect") or root.findall(
            ".//{http://www.w3.org/2000/svg}polyline")
    for title in ("Response latency", "Outcomes over time", "Retries", "Queue depths", "availability"):
        assert title in html


# --- the command line's mistakes: one line, exit 2 --------------------------------------------------------

@pytest.mark.parametrize("change,option", [
    ({"--han-loss": "1.5"}, "--han-loss"),
    ({"--wan-loss": "x"}, "--wan-loss"),
    ({"--duration": "-5"}, "--duration"),
    ({"--seed": "three"}, "--seed"),
    ({"--outage": "east:1:2"}, "--outage"),
    ({"--outage": "north:1"}, "--outage"),
    ({"--param": "homes=x"}, "--param"),
    ({"--param": "floors=3"}, "--param"),
    ({"--workload": "/nonexistent.yaml"}, "--workload"),
    ({"--topology": "/nonexistent.yaml"}, "--topology"),
    ({"--pcap": "/nonexistent/dir/x.pcapng"}, "--pcap"),
    ({"--report": "/nonexistent/dir/r"}, "--report"),
])
def test_bad_options_one_line_exit_2(change, option, soak_files, tmp_path, capsys):
    base, topology, workload = soak_files
    opts = {"--topology": str(topology), "--workload": str(workload), "--report": str(tmp_path / "r"),
            "--duration": "60", "--seed": "1", "--no-progress": None}
    opts.update(change)
    argv = [x for k, v in opts.items() for x in ((k,) if v is None else (k, v))]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"smets soak: error: {option}")
    assert not (tmp_path / "r").exists()


def test_bad_workload_file_one_line_exit_2(soak_files, tmp_path, capsys):
    base, topology, _ = soak_files
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("{per_hour: 1}", "{per_hour: often}"))
    assert cli.main(["--topology", str(topology), "--workload", str(bad), "--report", str(tmp_path / "r"),
                     "--duration", "60", "--no-progress"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("smets soak: error: --workload: ") and "per_home.on_demand_read.per_hour" in line


def test_missing_required_option(capsys):
    assert cli.main(["--duration", "60"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "--topology" in line


def test_smets_lists_soak(capsys):
    from emulator.cli import main
    assert main(["--help"]) == 0
    assert "soak" in capsys.readouterr().out


def test_default_workload_is_shipped():
    assert Path(cli.DEFAULT_WORKLOAD).is_file()
