"""ECS01a end to end over real HTTP on loopback with our DUIS 1.1.1 request (its RTDS folder
and template are not in shared/): the pre-command comes back, the User signs it with
C{smets duis sign}, resends it, and the ESME's signed GBCS response arrives as the DUIS
response (the same path as tests/test_e2e.py, whose estate fixture this module reuses)."""

from __future__ import annotations

from pathlib import Path

from protocols.gbcs.framing import CRA_RESPONSE
from tests.duis_helpers import ESME, SUPPLIER
from tests.test_e2e import _documents, _gbcs, _send_wait, _sign, _smets, _use_case, dcc_url  # noqa: F401

DATA = Path(__file__).resolve().parent / "data" / "duis"


def test_ecs01a_precommand_signed_and_resent_gets_the_esmes_response(dcc_url, tmp_path):  # noqa: F811
    _sign(DATA / "ECS01a_1.1.1_IMMEDIATE_TOU_BLOCK_SUCCESS_REQUEST_DUIS.XML", tmp_path / "tariff.xml")
    sent = _smets("send", str(tmp_path / "tariff.xml"), "--url", dcc_url)
    assert sent.returncode == 0, (sent.stdout, sent.stderr)
    [pre] = _documents(sent.stdout)
    assert (pre.kind, pre.response_code) == ("PreCommand", "I0")
    (tmp_path / "pre.xml").write_text(sent.stdout)
    _sign(tmp_path / "pre.xml", tmp_path / "signed.xml")
    ack, response = _send_wait(dcc_url, tmp_path / "signed.xml")
    assert ack.response_code == "I99"
    assert response.response_code == "I0" and response.variant == "1.1.1"
    msg = _gbcs(response.gbcs_payload)
    gs = msg.frame.signing
    assert (gs.cra_flag, gs.originator, gs.recipient) == (CRA_RESPONSE, ESME, SUPPLIER)
    assert _use_case(msg) == "ECS01a"
    assert [s["result"] for s in msg.payload["access_response_specification"]] == [0] * 21
