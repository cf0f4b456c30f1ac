"""`smets duis sign` as the DCC User: requests get an XML signature that verifies against the
User's RTDS certificate; GBCS pre-commands get the User's ECDSA signature, giving exactly the
General-Signing APDU that RTDS shows inside the command the DCC sent."""

from __future__ import annotations

from lxml import etree

from emulator import duis_cli
from protocols.duis import xmldsig
from protocols.duis.request import parse_request
from protocols.gbcs.crypto import ecdsa_verify
from protocols.gbcs.framing import decode_frame, signed_bytes
from tests.duis_helpers import KEYSTORE, NETWORK_OPERATOR, RTDS, TEMPLATES, keystore, require_shared


def test_sign_request_verifies_with_the_users_certificate(tmp_path, capsys):
    require_shared()
    src = TEMPLATES / "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML"
    assert duis_cli.main(["sign", str(src), "--keys", str(KEYSTORE)]) == 0
    out = capsys.readouterr().out.encode()
    req = parse_request(out)
    xmldsig.verify(req.document, keystore().public_key(NETWORK_OPERATOR, "ds"))
    assert req.service_reference_variant == "4.16"


def test_sign_every_rtds_precommand_gives_the_rtds_command(tmp_path, capsys):
    """For every RTDS pre-command, the signed result carries the same signed bytes as the
    RTDS command (whose signature the supplier's key also verifies) and our signature verifies."""
    require_shared()
    ks = keystore()
    checked = 0
    for pre_path in sorted(RTDS.glob("*/*_PRECOMMAND_GBCS.HEX")):
        cmd_path = pre_path.with_name(pre_path.name.replace("_PRECOMMAND_", "_COMMAND_"))
        pre = bytes.fromhex(pre_path.read_text().strip())
        originator = decode_frame(pre).signing.originator
        if not ks.has_private_key(originator, "ds") or not cmd_path.is_file():
            continue
        assert duis_cli.main(["sign", str(pre_path), "--keys", str(KEYSTORE)]) == 0, pre_path.name
        ours = decode_frame(bytes.fromhex(capsys.readouterr().out.strip()))
        theirs = decode_frame(bytes.fromhex(cmd_path.read_text().strip()))
        assert signed_bytes(ours.signing) == signed_bytes(theirs.signing), pre_path.name
        key = ks.public_key(originator, "ds")
        assert ecdsa_verify(key, ours.signed_data, ours.signing.signature), pre_path.name
        assert ecdsa_verify(key, theirs.signed_data, theirs.signing.signature), pre_path.name
        checked += 1
    assert checked >= 50


def test_precommand_xml_becomes_a_signed_precommand(tmp_path):
    require_shared()
    from protocols.duis.response import precommand
    pre_hex = (RTDS / "6.11_ECS70" / "ECS70_6.11_SUCCESS_PRECOMMAND_GBCS.HEX").read_text().strip()
    (tmp_path / "pre.xml").write_bytes(precommand(
        "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1000", "00-DB-12-34-56-78-90-A0:90-B3-D5-1F-30-01-00-00:1000",
        "6.11", "6.11", bytes.fromhex(pre_hex), 0.0))
    assert duis_cli.main(["sign", str(tmp_path / "pre.xml"), "--keys", str(KEYSTORE), "--command-variant", "6",
                          "--out", str(tmp_path / "s.xml")]) == 0
    req = parse_request((tmp_path / "s.xml").read_bytes())
    assert req.kind == "SignedPreCommand" and req.command_variant == 6
    assert str(req.request_id) == "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1000"
    xmldsig.verify(req.document, keystore().public_key(0x90B3D51F30010000, "ds"))
    assert decode_frame(req.gbcs_payload).signing.signature


def test_signing_twice_gives_the_same_bytes(tmp_path):
    require_shared()
    src = str(TEMPLATES / "8.2_READ_INVENTORY_REQUEST_DUIS.XML")
    for name in ("a", "b"):
        assert duis_cli.main(["sign", src, "--keys", str(KEYSTORE), "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
    assert etree.fromstring((tmp_path / "a").read_bytes()) is not None
