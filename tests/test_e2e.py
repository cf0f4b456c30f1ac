"""Issue 9 end to end, over real HTTP on loopback: a DCC User's DUIS request reaches the
device through the DCC host, the ACB, the WAN, the Communications Hub and the GB-HRGP tunnel,
and the device's GBCS response comes back as the DUIS response.

One C{twistd -n smets --topology topologies/rtds-home.yaml --duis-port PORT} process (real
time) serves every test of the module; the User's side is the C{smets duis} command line
(C{sign}, C{send --wait}) run as a separate process, as a DCC User would run it.  The GBCS in
the responses is checked with the RTDS key store (MACs by the device's key, as the reference
devices do) and decoded as the use case that was asked for.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time

import pytest
from lxml import etree

from protocols.duis.response import parse_response
from protocols.gbcs.framing import CRA_RESPONSE
from tests.duis_helpers import (ESME, KEYSTORE, NETWORK_OPERATOR, REPO, RTDS_HOME, SUPPLIER, TEMPLATES, keystore,
                                require_shared, set_header)

ECS17C = "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML"
ECS01C = "ECS01c_1.1.2_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML"
SMETS = [sys.executable, "-m", "emulator.cli", "duis"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dcc_url(tmp_path_factory):
    """The estate with its DCC, in its own process, until the module's tests are done."""
    require_shared()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("twistd") / "twistd.log"
    twistd = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(twistd + ["-n", "--pidfile=", "smets", "--topology", str(RTDS_HOME),
                                          "--duis-port", str(port)],
                                cwd=log_path.parent, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "twistd did not open --duis-port"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
        assert proc.poll() is None, "the estate stopped during the tests:\n" + log_path.read_text()
        log = log_path.read_text()
        assert "Traceback" not in log, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _smets(*argv: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(SMETS + list(argv), capture_output=True, text=True, cwd=REPO, timeout=timeout)


def _sign(path, out) -> None:
    done = _smets("sign", str(path), "--keys", str(KEYSTORE), "--out", str(out))
    assert done.returncode == 0, done.stderr


def _documents(stdout: str) -> list:
    """The DUIS documents C{smets duis send} printed, parsed, in order."""
    return [parse_response(("<?xml" + part).encode()) for part in stdout.split("<?xml")[1:]]


def _send_wait(url: str, path) -> list:
    done = _smets("send", str(path), "--url", url, "--wait", "--timeout", "60")
    docs = _documents(done.stdout)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return docs


def _gbcs(payload: bytes):
    """Decode and verify a device's GBCS response with the RTDS key store: every part of the
    payload decodes (nothing left opaque)."""
    from protocols.gbcs import GbcsCrypto, decode_message
    msg = decode_message(payload, GbcsCrypto(keystore()))
    assert msg.payload is not None and msg.opaque == [], msg.opaque
    return msg


def _use_case(msg) -> str:
    from protocols.gbcs import catalogue
    return catalogue.use_case(msg.frame.signing.message_code).name


def test_read_is_acknowledged_then_answered_with_the_devices_gbcs_response(dcc_url, tmp_path):
    _sign(TEMPLATES / ECS17C, tmp_path / "read.xml")
    ack, response = _send_wait(dcc_url, tmp_path / "read.xml")
    assert ack.response_code == "I99" and ack.gbcs_payload is None
    assert response.response_code == "I0" and response.variant == "4.16"
    assert response.request_id == "90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:1200"
    msg = _gbcs(response.gbcs_payload)
    gs = msg.frame.signing
    assert (gs.cra_flag, gs.message_code, gs.originator_counter) == (CRA_RESPONSE, 0x0028, 1200)
    assert (gs.originator, gs.recipient) == (ESME, NETWORK_OPERATOR)
    assert msg.verification.mac == "verified"          # the ESME's MAC, checked with the RTDS keys
    assert _use_case(msg) == "ECS17c"


def test_critical_request_precommand_signed_and_resent_gets_the_response(dcc_url, tmp_path):
    _sign(TEMPLATES / ECS01C, tmp_path / "tariff.xml")
    sent = _smets("send", str(tmp_path / "tariff.xml"), "--url", dcc_url)
    assert sent.returncode == 0, (sent.stdout, sent.stderr)
    [pre] = _documents(sent.stdout)
    assert (pre.kind, pre.response_code) == ("PreCommand", "I0")
    (tmp_path / "pre.xml").write_text(sent.stdout)
    _sign(tmp_path / "pre.xml", tmp_path / "signed.xml")
    ack, response = _send_wait(dcc_url, tmp_path / "signed.xml")
    assert ack.response_code == "I99"
    assert response.response_code == "I0" and response.variant == "1.1.2"
    msg = _gbcs(response.gbcs_payload)
    gs = msg.frame.signing
    assert (gs.cra_flag, gs.originator, gs.recipient) == (CRA_RESPONSE, ESME, SUPPLIER)
    assert _use_case(msg) == "ECS01c"
    assert gs.signature                                 # a response to a signed command is signed


def test_import_register_read_ecs17b(dcc_url, tmp_path):
    """4.1.1 Read Instantaneous Import Registers (ECS17b: not among the shared templates): a
    protected read whose values the device encrypts for the supplier (wire format 4.1.6)."""
    template = (TEMPLATES / "GCS13c_4.1.2_SUCCESS_UNRELIABLE_REQUEST_DUIS.XML").read_bytes()
    root = etree.fromstring(set_header(template, ServiceReferenceVariant="4.1.1",
                                       RequestID="90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:5000"))
    body = root.find("{*}Body")
    body.remove(body[0])
    etree.SubElement(body, "{http://www.dccinterface.co.uk/ServiceUserGateway}ReadInstantaneousImportRegisters")
    (tmp_path / "ecs17b.xml").write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    _sign(tmp_path / "ecs17b.xml", tmp_path / "signed.xml")
    ack, response = _send_wait(dcc_url, tmp_path / "signed.xml")
    assert (ack.response_code, response.response_code, response.variant) == ("I99", "I0", "4.1.1")
    msg = _gbcs(response.gbcs_payload)
    gs = msg.frame.signing
    assert (gs.cra_flag, gs.message_code, gs.originator, gs.recipient) == (CRA_RESPONSE, 0x0027, ESME, SUPPLIER)
    assert msg.verification.mac == "verified" and _use_case(msg) == "ECS17b"
    # the Data-Protection action succeeds: the ESME holds both import registers (active and
    # reactive import energy, IC 3 value) and returns them encrypted for the supplier
    [spec] = msg.payload["access_response_specification"]
    assert (spec["choice"], spec["result_name"]) == ("access-response-action", "success")
    [data] = msg.payload["access_response_list_of_data"]
    params, values = data["value"]
    assert [p["value"][1]["value"][2]["value"] for p in params["value"]] == ["90B3D51F30010000"]
    plain = values["protected"]["plaintext"]
    assert plain["type"] == "structure"
    assert [(v["type"], isinstance(v["value"], int)) for v in plain["value"]] == [("double-long-unsigned", True)] * 2

def test_unauthorised_user_bad_signature_and_replay_get_their_codes(dcc_url, tmp_path):
    cases = []
    # a supplier not registered for the ESME
    other = set_header((TEMPLATES / ECS17C).read_bytes(),
                       RequestID="90-B3-D5-1F-30-03-00-00:00-DB-12-34-56-78-90-A0:77")
    cases.append(("unregistered.xml", other, True, "E9"))
    # the network operator asking for a tariff change (import suppliers only)
    tariff = set_header((TEMPLATES / ECS01C).read_bytes(),
                        RequestID="90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:78000")
    cases.append(("role.xml", tariff, True, "E6"))
    for name, data, sign, code in cases:
        (tmp_path / f"raw-{name}").write_bytes(data)
        _sign(tmp_path / f"raw-{name}", tmp_path / name)
        done = _smets("send", str(tmp_path / name), "--url", dcc_url)
        assert done.returncode == 1 and _documents(done.stdout)[0].response_code == code, (name, done.stdout)
    # a signed request altered after signing
    _sign(TEMPLATES / ECS17C, tmp_path / "good.xml")
    tampered = (tmp_path / "good.xml").read_bytes().replace(b":1200<", b":1300<")
    (tmp_path / "tampered.xml").write_bytes(tampered)
    done = _smets("send", str(tmp_path / "tampered.xml"), "--url", dcc_url)
    assert done.returncode == 1 and _documents(done.stdout)[0].response_code == "E3", done.stdout
    # the same request twice: the second one's RequestID counter is used up
    (tmp_path / "raw-again.xml").write_bytes(set_header((TEMPLATES / ECS17C).read_bytes(),
                                                        RequestID="90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:9000"))
    _sign(tmp_path / "raw-again.xml", tmp_path / "again.xml")
    done = _smets("send", str(tmp_path / "again.xml"), "--url", dcc_url)
    assert done.returncode == 0 and _documents(done.stdout)[0].response_code == "I99", done.stdout
    done = _smets("send", str(tmp_path / "again.xml"), "--url", dcc_url)
    assert done.returncode == 1 and _documents(done.stdout)[0].response_code == "E7", done.stdout


def test_the_response_payload_is_base64_of_the_gbcs_message(dcc_url, tmp_path):
    """The DUIS response carries the device's bytes unchanged (DUIS GBCSPayload is base64)."""
    raw = set_header((TEMPLATES / ECS17C).read_bytes(),
                     RequestID="90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:20000")
    (tmp_path / "raw.xml").write_bytes(raw)
    _sign(tmp_path / "raw.xml", tmp_path / "read.xml")
    _ack, response = _send_wait(dcc_url, tmp_path / "read.xml")
    text = response.document.findtext(".//{*}GBCSPayload")
    assert base64.b64decode(text) == response.gbcs_payload
    assert _gbcs(response.gbcs_payload).frame.signing.originator_counter == 20000


def test_the_duis_port_serves_the_processs_prometheus_metrics(dcc_url, tmp_path):
    """/metrics on the DUIS port: the DCC's families and the estate's, one registry, parsed by
    prometheus_client's own parser; the read just answered is counted."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families
    raw = set_header((TEMPLATES / ECS17C).read_bytes(),
                     RequestID="90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:30000")
    (tmp_path / "raw.xml").write_bytes(raw)
    _sign(tmp_path / "raw.xml", tmp_path / "read.xml")
    _ack, response = _send_wait(dcc_url, tmp_path / "read.xml")
    assert response.response_code == "I0"
    with urllib.request.urlopen(dcc_url + "/metrics", timeout=30) as reply:
        text = reply.read().decode("utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    ok = [s.value for s in families["smets_dcc_requests"].samples
          if s.name == "smets_dcc_requests_total" and s.labels == {"service_reference": "4.16", "outcome": "ok"}]
    assert ok and ok[0] >= 1
    assert any(s.value > 0 for s in families["smets_frames_sent"].samples)       # the estate's, same registry
    assert any(s.name == "smets_dcc_response_seconds_count" and s.labels == {"target": "non_critical"}
               and s.value >= 1 for s in families["smets_dcc_response_seconds"].samples)
