"""The DUIS interface over real HTTP on loopback: /api/v1/serviceS|T|D, polling, delivery to
the User's response URL, the `smets duis` client, and `twistd smets --duis-port`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from io import BytesIO

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, threads
from twisted.internet.task import deferLater
from twisted.web import resource, server
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers

from emulator import duis_cli
from emulator.dcc import build_host
from emulator.dcc.config import load_dcc_config
from emulator.dcc.web import ResponseSender, site
from emulator.topology import load_topology
from protocols.duis.response import parse_response
from tests.duis_helpers import (KEYSTORE, REPO, RTDS_HOME, SUPPLIER, TEMPLATES, require_shared, set_header, signed,
                                template)

INVENTORY = "8.2_READ_INVENTORY_REQUEST_DUIS.XML"
ECS17C = "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML"


class _Receiver(resource.Resource):
    """The DCC User's "receive response" endpoint."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.received: list[bytes] = []
        self.arrived = defer.Deferred()

    def render_POST(self, request) -> bytes:  # noqa: N802
        self.received.append(request.content.read())
        if not self.arrived.called:
            self.arrived.callback(None)
        return b""


@pytest.fixture
def server_url():
    require_shared()
    config = load_dcc_config(load_topology(str(RTDS_HOME), 1))
    receiver = _Receiver()
    rport = reactor.listenTCP(0, server.Site(receiver), interface="127.0.0.1")
    config.inventory.user(SUPPLIER).response_url = f"http://127.0.0.1:{rport.getHost().port}/duis"
    sender = ResponseSender(reactor)
    host = build_host(config, reactor, deliver=sender)
    port = reactor.listenTCP(0, site(host), interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}"
    yield url, receiver, sender, host
    pytest_twisted.blockon(defer.gatherResults([defer.maybeDeferred(port.stopListening),
                                                defer.maybeDeferred(rport.stopListening)]))


@defer.inlineCallbacks
def _post(url: str, body: bytes):
    reply = yield Agent(reactor).request(b"POST", url.encode(), Headers({b"content-type": [b"application/xml"]}),
                                         FileBodyProducer(BytesIO(body)))
    data = yield readBody(reply)
    return reply.code, data


@defer.inlineCallbacks
def _get(url: str):
    reply = yield Agent(reactor).request(b"GET", url.encode())
    data = yield readBody(reply)
    return reply.code, data


@pytest_twisted.inlineCallbacks
def test_read_inventory_ack_poll_and_delivery(server_url):
    url, receiver, sender, _ = server_url
    status, body = yield _post(f"{url}/api/v1/serviceD", signed(template(INVENTORY)))
    assert (status, parse_response(body).response_code) == (200, "I99")
    yield receiver.arrived
    rid = "90-B3-D5-1F-30-01-00-00%3A90-B3-D5-1F-30-00-00-02%3A1000"
    status, polled = yield _get(f"{url}/api/v1/response?RequestID={rid}")
    assert status == 200
    assert receiver.received == [polled]
    resp = parse_response(polled)
    assert resp.response_code == "I0" and resp.body.tag.endswith("ReadInventoryRsp")
    status, _ = yield _get(f"{url}/api/v1/response?RequestID={rid}&index=1")
    assert status == 204
    status, _ = yield _get(f"{url}/api/v1/response?RequestID=nothing")
    assert status == 404
    assert (sender.delivered, sender.failed) == (1, 0)


@pytest_twisted.inlineCallbacks
def test_undeliverable_response_is_counted_and_still_polled(server_url):
    url, _, sender, host = server_url
    closed = _free_port()  # nothing listens there
    host.inventory.user(SUPPLIER).response_url = f"http://127.0.0.1:{closed}/duis"
    status, _ = yield _post(f"{url}/api/v1/serviceD", signed(template(INVENTORY)))
    assert status == 200
    for _ in range(200):
        if sender.failed:
            break
        yield deferLater(reactor, 0.01, lambda: None)
    assert (sender.delivered, sender.failed) == (0, 1)
    status, polled = yield _get(f"{url}/api/v1/response?RequestID=90-B3-D5-1F-30-01-00-00%3A"
                                "90-B3-D5-1F-30-00-00-02%3A1000")
    assert status == 200 and parse_response(polled).response_code == "I0"


@pytest_twisted.inlineCallbacks
def test_alerts_are_pushed_and_polled(server_url):
    url, receiver, _, host = server_url
    xml = host.device_alert(SUPPLIER, 0x00DB1234567890A0, b"\xdd\x00", 9)
    yield receiver.arrived
    assert receiver.received == [xml]
    status, polled = yield _get(f"{url}/api/v1/alerts?UserID=90B3D51F30010000&index=0")
    assert (status, polled) == (200, xml)
    status, _ = yield _get(f"{url}/api/v1/alerts?UserID=90B3D51F30010000&index=1")
    assert status == 204
    status, _ = yield _get(f"{url}/api/v1/alerts?UserID=nope")
    assert status == 400


@pytest_twisted.inlineCallbacks
def test_each_failure_gets_its_code_over_http(server_url):
    url, _, _, _ = server_url
    cases = [
        ("serviceD", template(INVENTORY), "E3"),                                              # bad signature
        ("serviceD", signed(set_header(template("8.3_DECOMMISSION_DEVICE_REQUEST_DUIS.XML"),
                                       RequestID="90-B3-D5-1F-30-02-00-00:90-B3-D5-1F-30-00-00-02:1")), "E6"),
        ("serviceD", b"<sr:Request xmlns:sr='x'>", "E1"),                                     # bad XML
        ("serviceD", signed(set_header(template(INVENTORY), ServiceReference="8.99",
                                       ServiceReferenceVariant="8.99")), "E4"),
        ("serviceS", signed(set_header(template(ECS17C),                                      # not registered
                                       RequestID="90-B3-D5-1F-30-03-00-00:00-DB-12-34-56-78-90-A0:1")), "E9"),
        ("serviceD", signed(template(INVENTORY)), "I99"),
        ("serviceD", signed(template(INVENTORY)), "E7"),                                      # replayed RequestID
    ]
    for endpoint, body, code in cases:
        status, answer = yield _post(f"{url}/api/v1/{endpoint}", body)
        assert parse_response(answer).response_code == code, (code, answer)
        assert status == (200 if code == "I99" else 400)


@pytest_twisted.inlineCallbacks
def test_smets_duis_send_wait_prints_ack_then_response(server_url, tmp_path, capsys):
    url, _, _, _ = server_url
    request = tmp_path / "inventory.xml"
    status = yield threads.deferToThread(duis_cli.main, ["sign", str(TEMPLATES / INVENTORY), "--keys",
                                                         str(KEYSTORE), "--out", str(request)])
    assert status == 0
    status = yield threads.deferToThread(duis_cli.main, ["send", str(request), "--url", url, "--wait"])
    out = capsys.readouterr().out
    assert status == 0
    first, second = out.split("<?xml")[1:]
    assert "<sr:ResponseCode>I99</sr:ResponseCode>" in first
    assert "<sr:ResponseCode>I0</sr:ResponseCode>" in second and "ReadInventoryRsp" in second
    status = yield threads.deferToThread(duis_cli.main, ["send", str(request), "--url", url])
    assert status == 1 and "<sr:ResponseCode>E7</sr:ResponseCode>" in capsys.readouterr().out


def test_cli_user_mistakes_are_one_line_and_exit_2(tmp_path, capsys):
    require_shared()
    cases = [
        (["send", str(tmp_path / "missing.xml"), "--url", "http://127.0.0.1:1"], "FILE"),
        (["send", str(TEMPLATES / INVENTORY), "--url", "ftp://x"], "--url"),
        (["send", str(TEMPLATES / INVENTORY)], "--url"),
        (["send", str(TEMPLATES / INVENTORY), "--url", "http://127.0.0.1:1"], "--url"),  # nothing listens
        (["sign", str(TEMPLATES / INVENTORY), "--keys", str(tmp_path / "nokeys")], "--keys"),
        (["sign", str(TEMPLATES / INVENTORY), "--keys", str(tmp_path)], "--keys"),  # no key for the User
        (["sign", str(TEMPLATES / INVENTORY), "--keys", str(KEYSTORE), "--command-variant", "x"],
         "--command-variant"),
        (["bogus"], "bogus"),
    ]
    for argv, option in cases:
        assert duis_cli.main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and option in err, (argv, err)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_twistd_serves_duis_and_the_cli_talks_to_it(tmp_path):
    require_shared()
    port = _free_port()
    env = dict(os.environ)
    twistd = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
    proc = subprocess.Popen(twistd + ["-n", "--pidfile=", "smets", "--topology",
                             str(RTDS_HOME), "--duis-port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "twistd did not open --duis-port"
                time.sleep(0.2)
        smets = [sys.executable, "-m", "emulator.cli", "duis"]
        req = tmp_path / "inv.xml"
        subprocess.run(smets + ["sign", str(TEMPLATES / INVENTORY), "--keys", str(KEYSTORE), "--out", str(req)],
                       check=True, cwd=REPO)
        sent = subprocess.run(smets + ["send", str(req), "--url", f"http://127.0.0.1:{port}", "--wait"],
                              capture_output=True, text=True, cwd=REPO, timeout=60)
        assert sent.returncode == 0, sent.stderr
        assert "<sr:ResponseCode>I99</sr:ResponseCode>" in sent.stdout
        assert "<sr:ResponseCode>I0</sr:ResponseCode>" in sent.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=30)
