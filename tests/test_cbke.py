"""CBKE suite 2: certificates, ECQV, ECMQV, payloads and the initiator/responder machines.

Independent checks: Wireshark's Key Establishment dissector reads every payload and the
74-octet certificate the way we write them; the last step of ECMQV is checked with OpenSSL's
ECDH; ECQV and ECMQV are checked by computing the same values along a second algebraic path
(d_U G against the certificate's reconstructed key, Z against h s_U s_V G).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random
import shutil
import struct
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from emulator.clock import VirtualClock
from emulator.capture import PcapngWriter
from emulator.rng import derive_rng
from protocols.errors import CodecError
from protocols.ieee802154.frames import fcs
from protocols.zcl.frame import FRAME_TYPE_GLOBAL, ZclFrame, decode_zcl, encode_zcl
from protocols.zigbee import ecc283 as E
from protocols.zigbee.cbke import certificate as C
from protocols.zigbee.cbke import ecmqv as Q
from protocols.zigbee.cbke import messages as M
from protocols.zigbee.cbke.credentials import make_certificate_authority, make_credentials
from protocols.zigbee.cbke.machine import (
    DEFAULT_RESPONSE_TIMEOUT, DEFAULT_TIMEOUT_MARGIN, KeyEstablishment, Outcome)
from protocols.zigbee.keys import aes_mmo_hash
from tests.test_ecc283 import _private_key_der, _public_key_der, _run

EUI_U = bytes.fromhex("00124b0000000001")     # initiator, e.g. the ESME
EUI_V = bytes.fromhex("00124b00000000aa")     # responder, the CH / trust centre
EUI_X = bytes.fromhex("00124b0000000077")


def _rng_for(seed: int):
    return lambda *names: derive_rng(seed, "cbke", *names)


_CA, _CREDS = make_credentials(_rng_for(7), [EUI_U, EUI_V, EUI_X])
_OTHER_CA, _OTHER_CREDS = make_credentials(_rng_for(8), [EUI_U])


# -- certificates and ECQV ---------------------------------------------------------------------

def test_certificate_layout_and_round_trip() -> None:
    cert = _CREDS[EUI_U].certificate
    raw = cert.to_bytes()
    assert len(raw) == 74
    assert raw[0] == 0x00 and raw[9] == 0x0D and raw[10] == 0x08
    assert raw[11:19] == _CA.issuer and raw[28:36] == EUI_U and raw[36] == 0x08
    assert raw[24:28] == b"\xff\xff\xff\xff"
    assert C.ImplicitCertificate.from_bytes(raw) == cert
    with pytest.raises(CodecError, match="74 octets"):
        C.ImplicitCertificate.from_bytes(raw[:48])
    with pytest.raises(CodecError, match="subject"):
        C.ImplicitCertificate(serial=bytes(8), issuer=bytes(8), subject=bytes(7),
                              public_key_reconstruction_data=bytes(37)).to_bytes()


def test_ecqv_private_key_matches_reconstructed_public_key() -> None:
    for eui, cred in _CREDS.items():
        assert cred.certificate.subject == eui
        q = C.reconstruct_public_key(cred.certificate, _CA.trusted)
        assert E.multiply_base(cred.private_key) == q
        # SEC 4: Q_U = e P_U + Q_CA, e = MMO(certificate)
        e = int.from_bytes(aes_mmo_hash(cred.certificate.to_bytes()), "big")
        p_u = E.decode_point(cred.certificate.public_key_reconstruction_data)
        assert E.point_add(E.scalar_mult(e, p_u), _CA.public_key) == q


def test_ecqv_issue_from_a_request_and_bad_contribution() -> None:
    rng = random.Random(5)
    k_u, r_u = C.certificate_request(rng)
    cert, r = _CA.issue(EUI_X, r_u, valid_from=1_700_000_000, valid_to=86400 * 365)
    d = C.reconstruct_private_key(cert, k_u, r, _CA.trusted)
    assert E.multiply_base(d) == C.reconstruct_public_key(cert, _CA.trusted)
    assert cert.valid_from == 1_700_000_000
    with pytest.raises(C.CertificateError) as info:
        C.reconstruct_private_key(cert, k_u, r + 1, _CA.trusted)
    assert info.value.status == M.TerminateStatus.INVALID_CERTIFICATE


def test_certificate_checks_give_terminate_statuses() -> None:
    cert = _CREDS[EUI_U].certificate
    cases = {
        "issuer": (_OTHER_CA.trusted, cert, M.TerminateStatus.UNKNOWN_ISSUER),
        "curve": (_CA.trusted, C.ImplicitCertificate.from_bytes(
            cert.to_bytes()[:9] + b"\x0c" + cert.to_bytes()[10:]),
            M.TerminateStatus.INVALID_CERTIFICATE),
        "hash": (_CA.trusted, C.ImplicitCertificate.from_bytes(
            cert.to_bytes()[:10] + b"\x07" + cert.to_bytes()[11:]),
            M.TerminateStatus.INVALID_CERTIFICATE),
        "type": (_CA.trusted, C.ImplicitCertificate.from_bytes(
            b"\x01" + cert.to_bytes()[1:]), M.TerminateStatus.INVALID_CERTIFICATE),
        "usage": (_CA.trusted, C.ImplicitCertificate.from_bytes(
            cert.to_bytes()[:36] + b"\x80" + cert.to_bytes()[37:]),
            M.TerminateStatus.INVALID_CERTIFICATE),
        "point": (_CA.trusted, C.ImplicitCertificate.from_bytes(
            cert.to_bytes()[:37] + b"\x07" + cert.to_bytes()[38:]),
            M.TerminateStatus.INVALID_CERTIFICATE),
    }
    for name, (ca, bad, status) in cases.items():
        with pytest.raises(C.CertificateError) as info:
            C.reconstruct_public_key(bad, ca)
        assert info.value.status == status, name


def test_credentials_are_deterministic_and_per_device() -> None:
    ca2, creds2 = make_credentials(_rng_for(7), [EUI_X, EUI_U])     # other order, subset
    assert ca2.issuer == _CA.issuer and ca2.public_key == _CA.public_key
    for eui in (EUI_U, EUI_X):
        assert creds2[eui].certificate.to_bytes() == _CREDS[eui].certificate.to_bytes()
        assert creds2[eui].private_key == _CREDS[eui].private_key
    ca3, creds3 = make_credentials(_rng_for(8), [EUI_U])
    assert ca3.issuer != _CA.issuer
    assert creds3[EUI_U].private_key != _CREDS[EUI_U].private_key
    fixed = make_certificate_authority(_rng_for(7), issuer=b"GBSMKICA")
    assert fixed.issuer == b"GBSMKICA" and fixed.public_key == _CA.public_key
    assert "private" not in repr(_CREDS[EUI_U]) and str(_CREDS[EUI_U].private_key) \
        not in repr(_CREDS[EUI_U])


# -- ECMQV, KDF, MACs --------------------------------------------------------------------------

def _two_sides(seed: int = 11):
    rng = random.Random(seed)
    u, v = _CREDS[EUI_U], _CREDS[EUI_V]
    qsu = C.reconstruct_public_key(u.certificate, _CA.trusted)
    qsv = C.reconstruct_public_key(v.certificate, _CA.trusted)
    deu, dev = E.private_key_from_rng(rng), E.private_key_from_rng(rng)
    return u, v, qsu, qsv, deu, E.multiply_base(deu), dev, E.multiply_base(dev)


def test_ecmqv_both_sides_agree_and_match_second_path() -> None:
    u, v, qsu, qsv, deu, qeu, dev, qev = _two_sides()
    z_u = Q.ecmqv(u.private_key, deu, qeu, qsv, qev)
    z_v = Q.ecmqv(v.private_key, dev, qev, qsu, qeu)
    assert z_u == z_v and len(z_u) == 36
    s_u = (deu + Q.associate_value(qeu) * u.private_key) % E.N
    s_v = (dev + Q.associate_value(qev) * v.private_key) % E.N
    assert E.field_to_octets(E.multiply_base(4 * s_u * s_v % E.N).x) == z_u
    # avf: the low ceil(281 / 2) = 141 bits of x, plus 2^141
    assert Q.associate_value(qeu) == (qeu.x % (1 << 141)) + (1 << 141)


def test_ecmqv_final_step_matches_openssl(tmp_path) -> None:
    """P = (h s_U) T with T = Q_E,V + avf(Q_E,V) Q_S,V is an ECDH: OpenSSL must agree."""
    u, v, qsu, qsv, deu, qeu, dev, qev = _two_sides(12)
    s_u = (deu + Q.associate_value(qeu) * u.private_key) % E.N
    t = E.point_add(qev, E.scalar_mult(Q.associate_value(qev), qsv))
    key, peer = tmp_path / "hs.der", tmp_path / "t.der"
    key.write_bytes(_private_key_der(4 * s_u % E.N))
    peer.write_bytes(_public_key_der(t))
    theirs = _run("pkeyutl", "-derive", "-inkey", str(key), "-keyform", "DER",
                  "-peerkey", str(peer), "-peerform", "DER")
    assert theirs == Q.ecmqv(u.private_key, deu, qeu, qsv, qev)


def test_kdf_and_macs() -> None:
    z = bytes(range(36))
    out = Q.kdf(z)
    assert out == aes_mmo_hash(z + b"\x00\x00\x00\x01") + aes_mmo_hash(z + b"\x00\x00\x00\x02")
    u, v, qsu, qsv, deu, qeu, dev, qev = _two_sides()
    ku = Q.derive_session_keys(initiator=True, static_private=u.private_key,
                               ephemeral_private=deu, ephemeral_public=qeu,
                               peer_static_public=qsv, peer_ephemeral_public=qev,
                               local_id=EUI_U, peer_id=EUI_V)
    kv = Q.derive_session_keys(initiator=False, static_private=v.private_key,
                               ephemeral_private=dev, ephemeral_public=qev,
                               peer_static_public=qsu, peer_ephemeral_public=qeu,
                               local_id=EUI_V, peer_id=EUI_U)
    assert ku == kv and ku.mac_u != ku.mac_v and len(ku.link_key) == 16
    mac_key = Q.kdf(Q.ecmqv(u.private_key, deu, qeu, qsv, qev))[:16]
    from protocols.zigbee.keys import hmac_mmo
    eu, ev = E.encode_point(qeu), E.encode_point(qev)
    assert ku.mac_u == hmac_mmo(mac_key, b"\x02" + EUI_U + EUI_V + eu + ev)
    assert ku.mac_v == hmac_mmo(mac_key, b"\x03" + EUI_V + EUI_U + ev + eu)
    assert ku.link_key.hex() not in repr(ku)


# -- payloads ----------------------------------------------------------------------------------

_CERT = _CREDS[EUI_U].certificate.to_bytes()
_SAMPLES = [
    M.InitiateKeyEstablishmentRequest(2, 10, 12, _CERT),
    M.InitiateKeyEstablishmentResponse(2, 14, 16, _CREDS[EUI_V].certificate.to_bytes()),
    M.EphemeralDataRequest(E.encode_point(E.G)),
    M.EphemeralDataResponse(E.encode_point(E.point_neg(E.G))),
    M.ConfirmKeyDataRequest(bytes(range(16))),
    M.ConfirmKeyDataResponse(bytes(range(16, 32))),
    M.TerminateKeyEstablishment(M.TerminateStatus.UNKNOWN_ISSUER, 30, 2, M.CLIENT_TO_SERVER),
    M.TerminateKeyEstablishment(M.TerminateStatus.BAD_KEY_CONFIRM, 7, 2, M.SERVER_TO_CLIENT),
]


def test_payload_round_trip_and_layout() -> None:
    for msg in _SAMPLES:
        raw = M.encode(msg)
        assert M.decode_command(msg.DIRECTION, msg.COMMAND_ID, raw) == msg
    assert M.encode(_SAMPLES[0])[:4] == b"\x02\x00\x0a\x0c"
    assert M.encode(_SAMPLES[6]) == b"\x01\x1e\x02\x00"


def test_payloads_agree_with_the_zcl_cluster_registry() -> None:
    """Every CBKE command carries exactly the fields of the ZCL registry's Key Establishment
    command, in payload order, and the registry encodes and decodes it to the same octets."""
    from protocols.zcl import clusters as Z
    for msg in _SAMPLES:
        definition = Z.get_cluster(0x0800).commands(msg.DIRECTION)[msg.COMMAND_ID]
        assert definition.name == type(msg).__name__
        assert tuple(name for _, name in msg.FIELDS) == definition.field_names
        values = {name: getattr(msg, attr) for attr, name in msg.FIELDS}
        raw = M.encode(msg)
        assert Z.encode_command(0x0800, msg.DIRECTION, msg.COMMAND_ID, **values) == raw
        decoded = Z.decode_command(0x0800, msg.DIRECTION, msg.COMMAND_ID, raw)
        assert {k: (bytes(v) if isinstance(v, (bytes, bytearray)) else int(v))
                for k, v in decoded.items()} == values


def test_payload_decode_errors() -> None:
    with pytest.raises(CodecError, match="unknown command 0x04"):
        M.decode_command(M.CLIENT_TO_SERVER, 4, b"")
    with pytest.raises(CodecError, match="truncated") as info:
        M.decode_command(M.CLIENT_TO_SERVER, 3, b"\x01\x1e\x02")
    assert info.value.field == "TerminateKeyEstablishment.KeyEstablishmentSuite"
    with pytest.raises(CodecError, match="1 trailing octets"):
        M.decode_command(M.SERVER_TO_CLIENT, 2, bytes(17))
    with pytest.raises(CodecError, match="16 octets") as info:
        M.encode(M.ConfirmKeyDataRequest(bytes(15)))
    assert info.value.field == "ConfirmKeyDataRequest.SecureMessageAuthenticationCode"
    with pytest.raises(CodecError, match="cannot encode 256") as info:
        M.encode(M.TerminateKeyEstablishment(1, 256, 2))
    assert info.value.field == "TerminateKeyEstablishment.WaitTime"


def _tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("tshark is required under CI")
        pytest.skip("tshark not installed")
    return path


def _air(zcl: bytes, seq: int, direction: int) -> bytes:
    """802.15.4 / NWK / APS (unsecured, profile 0x0109, cluster 0x0800) around a ZCL frame."""
    src, dst = (0x1234, 0x0000) if direction == M.CLIENT_TO_SERVER else (0x0000, 0x1234)
    aps = bytes((0x00, 1)) + struct.pack("<HH", 0x0800, 0x0109) + bytes((1, seq))
    nwk = struct.pack("<HHHBB", 0x0008, dst, src, 30, seq)
    mac = struct.pack("<HBHHH", 0x8861, seq, 0x1A62, dst, src) + nwk + aps + zcl
    return mac + struct.pack("<H", fcs(mac))


def _dissect(tmp_path, commands) -> list[dict]:
    buf = io.BytesIO()
    writer = PcapngWriter(buf)
    iface = writer.add_interface("han")
    for i, msg in enumerate(commands):
        zcl = encode_zcl(M.zcl_frame(msg, i))
        writer.write_packet(iface, float(i), _air(zcl, i, msg.DIRECTION))
    writer.flush()
    path = tmp_path / "ke.pcapng"
    path.write_bytes(buf.getvalue())
    out = subprocess.run([_tshark(), "-r", str(path), "-T", "json", "-J", "zbee_zcl _ws"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def _fields(packet: dict) -> dict:
    flat: dict = {}

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, (dict, list)):
                    walk(value)
                else:
                    flat.setdefault(key, []).append(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(packet["_source"]["layers"])
    return flat


def test_payloads_decoded_by_wireshark(tmp_path) -> None:
    packets = [_fields(p) for p in _dissect(tmp_path, _SAMPLES)]
    assert not any("_ws.malformed" in p or "_ws.expert" in p for p in packets)
    cert_u = _CREDS[EUI_U].certificate
    p = packets[0]
    assert p["zbee_zcl_se.ke.cmd.srv_rx.id"] == ["0x00"]
    assert p["zbee_zcl_se.ke.attr.suite"] == ["0x0002"]
    assert p["zbee_zcl_se.ke.init.ephemeral.time"] == ["10"]
    assert p["zbee_zcl_se.ke.init.confirm.time"] == ["12"]
    assert p["zbee_zcl_se.ke.cert.type"] == ["0x00"]
    assert p["zbee_zcl_se.ke.cert.serialno"] == ["0x" + cert_u.serial.hex()]
    assert p["zbee_zcl_se.ke.cert.curve"] == ["0x0d"]
    assert p["zbee_zcl_se.ke.cert.hash"] == ["0x08"]
    assert p["zbee_zcl_se.ke.cert.issuer"][0].replace(":", "") == _CA.issuer.hex()
    assert p["zbee_zcl_se.ke.cert.subject"][0].replace(":", "") == EUI_U.hex()
    assert p["zbee_zcl_se.ke.cert.key.usage.agreement"] == ["1"]
    assert p["zbee_zcl_se.ke.cert.reconst"][0].replace(":", "") == \
        cert_u.public_key_reconstruction_data.hex()
    assert packets[1]["zbee_zcl_se.ke.cmd.srv_tx.id"] == ["0x00"]
    assert packets[1]["zbee_zcl_se.ke.cert.subject"][0].replace(":", "") == EUI_V.hex()
    assert packets[2]["zbee_zcl_se.ke.qeu"][0].replace(":", "") == E.encode_point(E.G).hex()
    assert packets[3]["zbee_zcl_se.ke.qev"][0].replace(":", "") == \
        E.encode_point(E.point_neg(E.G)).hex()
    assert packets[4]["zbee_zcl_se.ke.macu"][0].replace(":", "") == bytes(range(16)).hex()
    assert packets[5]["zbee_zcl_se.ke.macv"][0].replace(":", "") == \
        bytes(range(16, 32)).hex()
    assert packets[6]["zbee_zcl_se.ke.terminate.status"] == ["0x01"]
    assert packets[6]["zbee_zcl_se.ke.terminate.wait.time"] == ["30"]
    assert packets[7]["zbee_zcl_se.ke.cmd.srv_tx.id"] == ["0x03"]
    assert packets[7]["zbee_zcl_se.ke.terminate.status"] == ["0x02"]


# -- the machines ------------------------------------------------------------------------------

class Pair:
    """An initiator and a responder wired through a virtual link with 20 ms latency.

    C{tamper(sender, command, payload)} may rewrite a payload in flight (or return None to
    drop it).  C{log} has (time, sender, command name, payload) for every command sent.
    """

    LATENCY = 0.02

    def __init__(self, seed: int = 1, u_creds=None, v_creds=None, tamper=None,
                 u_partner: bytes | None = EUI_V, v_partner: bytes | None = EUI_U,
                 **kw) -> None:
        self.clock = VirtualClock()
        self.log: list[tuple[float, str, str, bytes]] = []
        self.results: dict[str, object] = {}
        self.tamper = tamper
        self.tsn = 0
        self.u = KeyEstablishment(
            initiator=True, clock=self.clock, rng=derive_rng(seed, "u"),
            credentials=u_creds or _CREDS[EUI_U], send=self._sender("U"),
            on_done=lambda r: self._done("U", r), partner_eui64=u_partner, **kw)
        self.v = KeyEstablishment(
            initiator=False, clock=self.clock, rng=derive_rng(seed, "v"),
            credentials=v_creds or _CREDS[EUI_V], send=self._sender("V"),
            on_done=lambda r: self._done("V", r), partner_eui64=v_partner, **kw)

    def _done(self, who: str, result) -> None:
        assert who not in self.results, "on_done called twice"
        self.results[who] = (round(self.clock.seconds(), 6), result)

    def _sender(self, who: str):
        def send(command) -> None:
            payload = M.encode(command)
            self.log.append((round(self.clock.seconds(), 6), who, type(command).__name__,
                             payload))
            expected_direction = M.CLIENT_TO_SERVER if who == "U" else M.SERVER_TO_CLIENT
            assert command.DIRECTION == expected_direction
            if self.tamper is not None:
                payload = self.tamper(who, command, payload)
                if payload is None:
                    return
            peer = self.v if who == "U" else self.u
            self.tsn = (self.tsn + 1) & 0xFF
            frame = dataclasses.replace(M.zcl_frame(command, self.tsn), payload=payload)
            self.clock.callLater(self.LATENCY, peer.receive_frame,
                                 decode_zcl(encode_zcl(frame)))
        return send

    def run(self, seconds: float = 120.0) -> "Pair":
        self.u.start()
        self.clock.advance(seconds)
        return self

    def sequence(self) -> list[tuple[float, str, str]]:
        return [(t, who, name) for t, who, name, _ in self.log]


def test_initiator_and_responder_establish_the_same_key() -> None:
    pair = Pair().run()
    assert pair.sequence() == [
        (0.0, "U", "InitiateKeyEstablishmentRequest"),
        (0.02, "V", "InitiateKeyEstablishmentResponse"),
        (0.04, "U", "EphemeralDataRequest"),
        (0.06, "V", "EphemeralDataResponse"),
        (0.08, "U", "ConfirmKeyDataRequest"),
        (0.1, "V", "ConfirmKeyDataResponse"),
    ]
    (tu, ru), (tv, rv) = pair.results["U"], pair.results["V"]
    assert ru.outcome is rv.outcome is Outcome.ESTABLISHED
    assert ru.link_key == rv.link_key and len(ru.link_key) == 16
    assert (tu, tv) == (0.12, 0.1)
    assert ru.partner == EUI_V and rv.partner == EUI_U
    assert pair.clock.getDelayedCalls() == []            # every state timer was cancelled
    assert pair.u.result is ru and pair.v.result is rv
    # what went on the air is what the spec says: certificates, 37-octet keys, 16-octet MACs
    assert pair.log[0][3][4:] == _CREDS[EUI_U].certificate.to_bytes()
    assert pair.log[1][3][4:] == _CREDS[EUI_V].certificate.to_bytes()
    assert [len(entry[3]) for entry in pair.log[2:]] == [37, 37, 16, 16]
    assert ru.link_key.hex() not in repr(ru)
    core = repr(pair.u._core)
    assert ru.link_key.hex() not in core and str(pair.u._core.ephemeral_private) not in core
    assert str(_CREDS[EUI_U].private_key) not in core


def test_runs_are_deterministic_and_seeded() -> None:
    a, b, c = Pair(seed=3).run(), Pair(seed=3).run(), Pair(seed=4).run()
    assert a.log == b.log
    assert a.results["U"][1].link_key == b.results["U"][1].link_key
    assert a.log[2][3] != c.log[2][3]                    # another ephemeral key
    assert a.results["U"][1].link_key != c.results["U"][1].link_key
    assert c.results["U"][1].link_key == c.results["V"][1].link_key


def _terminated(pair: Pair, sender: str, status: M.TerminateStatus) -> None:
    last_t, last_who, name, payload = pair.log[-1]
    assert (last_who, name) == (sender, "TerminateKeyEstablishment")
    assert payload == bytes((status, 10)) + b"\x02\x00"
    receiver = "U" if sender == "V" else "V"
    assert pair.results[sender][1].outcome is Outcome.TERMINATED_LOCALLY
    assert pair.results[sender][1].status == status
    assert pair.results[receiver][1].outcome is Outcome.TERMINATED_BY_PEER
    assert pair.results[receiver][1].status == status
    assert pair.results[receiver][1].wait_time == 10
    assert pair.results[sender][1].link_key is None
    assert pair.clock.getDelayedCalls() == []


def test_wrong_issuer_ends_with_unknown_issuer() -> None:
    pair = Pair(u_creds=_OTHER_CREDS[EUI_U]).run()
    assert pair.sequence() == [(0.0, "U", "InitiateKeyEstablishmentRequest"),
                               (0.02, "V", "TerminateKeyEstablishment")]
    _terminated(pair, "V", M.TerminateStatus.UNKNOWN_ISSUER)


def test_bad_certificate_ends_with_invalid_certificate() -> None:
    def corrupt(who, command, payload):
        if isinstance(command, M.InitiateKeyEstablishmentResponse):
            return payload[:4 + 9] + b"\x0c" + payload[4 + 10:]      # curve byte
        return payload
    pair = Pair(tamper=corrupt).run()
    assert [name for _, _, name in pair.sequence()] == [
        "InitiateKeyEstablishmentRequest", "InitiateKeyEstablishmentResponse",
        "TerminateKeyEstablishment"]
    _terminated(pair, "U", M.TerminateStatus.INVALID_CERTIFICATE)


def test_certificate_of_another_device_ends_with_invalid_certificate() -> None:
    pair = Pair(u_creds=_CREDS[EUI_X]).run()       # the CH expects EUI_U
    _terminated(pair, "V", M.TerminateStatus.INVALID_CERTIFICATE)


def test_stolen_certificate_fails_key_confirmation() -> None:
    """U presents X's certificate with its own private key.  The issuer check passes and V
    does not know whom to expect, so V accepts the certificate; ECQV gives X's public key,
    which U's private key does not match, so the MACs differ and V's check of MACU fails."""
    impostor = type(_CREDS[EUI_U])(_CREDS[EUI_X].certificate, _CREDS[EUI_U].private_key,
                                   _CA.trusted)
    pair = Pair(u_creds=impostor, v_partner=None).run()
    assert [name for _, _, name in pair.sequence()] == [
        "InitiateKeyEstablishmentRequest", "InitiateKeyEstablishmentResponse",
        "EphemeralDataRequest", "EphemeralDataResponse", "ConfirmKeyDataRequest",
        "TerminateKeyEstablishment"]
    _terminated(pair, "V", M.TerminateStatus.BAD_KEY_CONFIRM)


def test_mac_mismatch_at_the_initiator() -> None:
    def flip(who, command, payload):
        if isinstance(command, M.ConfirmKeyDataResponse):
            return bytes((payload[0] ^ 1,)) + payload[1:]
        return payload
    pair = Pair(tamper=flip).run()
    assert pair.sequence()[-1] == (0.12, "U", "TerminateKeyEstablishment")
    assert pair.results["V"][1].outcome is Outcome.ESTABLISHED   # V had confirmed already
    assert pair.results["U"][1].outcome is Outcome.TERMINATED_LOCALLY
    assert pair.results["U"][1].status == M.TerminateStatus.BAD_KEY_CONFIRM
    assert pair.v.counters["ignored"] == 1                       # the late Terminate


def test_unsupported_suite_and_malformed_payloads() -> None:
    def suite1(who, command, payload):
        if isinstance(command, M.InitiateKeyEstablishmentRequest):
            return b"\x01\x00" + payload[2:]
        return payload
    _terminated(Pair(tamper=suite1).run(), "V", M.TerminateStatus.UNSUPPORTED_SUITE)

    def truncate(who, command, payload):
        return payload[:-1] if isinstance(command, M.EphemeralDataResponse) else payload
    pair = Pair(tamper=truncate).run()
    _terminated(pair, "U", M.TerminateStatus.BAD_MESSAGE)

    def short_cert(who, command, payload):
        return payload[:-26] if isinstance(command, M.InitiateKeyEstablishmentRequest) \
            else payload
    _terminated(Pair(tamper=short_cert).run(), "V", M.TerminateStatus.BAD_MESSAGE)

    def not_a_point(who, command, payload):
        return b"\x02" + b"\xff" * 36 if isinstance(command, M.EphemeralDataRequest) \
            else payload
    pair = Pair(tamper=not_a_point).run()
    _terminated(pair, "V", M.TerminateStatus.BAD_MESSAGE)
    assert pair.v.counters["rejected"] == 1


def test_out_of_sequence_message_is_bad_message() -> None:
    pair = Pair()
    pair.u.start()
    pair.clock.advance(0.03)            # V answered at 0.02 and waits for ephemeral data
    pair.v.receive(0x02, bytes(16))     # a ConfirmKeyDataRequest before any keys exist
    pair.clock.advance(5)
    assert pair.sequence()[1:] == [(0.02, "V", "InitiateKeyEstablishmentResponse"),
                                   (0.03, "V", "TerminateKeyEstablishment"),
                                   (0.04, "U", "EphemeralDataRequest")]
    assert pair.results["V"][1].status == M.TerminateStatus.BAD_MESSAGE
    assert pair.results["U"][1].outcome is Outcome.TERMINATED_BY_PEER
    assert pair.v.counters["ignored"] == 1      # U's EphemeralDataRequest arrived too late


def test_frames_in_the_wrong_direction_or_global_commands() -> None:
    pair = Pair()
    pair.u.start()
    pair.clock.advance(0.01)
    global_read = ZclFrame(FRAME_TYPE_GLOBAL, 0x00, 9, b"\x00\x00")   # Read Attributes
    pair.v.receive_frame(global_read)
    assert pair.v.counters["ignored"] == 1 and pair.v.result is None
    pair.clock.advance(0.02)             # V has answered; now send it a server->client frame
    pair.v.receive_frame(M.zcl_frame(M.EphemeralDataResponse(E.encode_point(E.G)), 10))
    assert pair.v.result.status == M.TerminateStatus.BAD_MESSAGE
    assert "wrong direction" in pair.v.result.reason


def test_second_initiate_request_mid_session_is_bad_message() -> None:
    pair = Pair()
    pair.u.start()
    pair.clock.advance(0.05)            # V waits for U's confirm
    pair.v.receive(0x00, M.encode(M.InitiateKeyEstablishmentRequest(2, 10, 10, _CERT)))
    assert pair.results["V"][1].status == M.TerminateStatus.BAD_MESSAGE


def test_initiator_times_out_waiting_for_the_response() -> None:
    pair = Pair(tamper=lambda who, c, p: None if who == "V" else p).run()
    (t, r) = pair.results["U"]
    assert r.outcome is Outcome.TIMEOUT and t == DEFAULT_RESPONSE_TIMEOUT
    # V answered and then waited U's advertised EphemeralDataGenerateTime (10 s) + margin
    # for an EphemeralDataRequest that never came (U's never ran: it had no response)
    assert pair.results["V"][1].outcome is Outcome.TIMEOUT
    assert pair.results["V"][0] == pytest.approx(0.02 + 10 + DEFAULT_TIMEOUT_MARGIN)
    assert [name for _, _, name in pair.sequence()] == [
        "InitiateKeyEstablishmentRequest", "InitiateKeyEstablishmentResponse"]
    assert pair.clock.getDelayedCalls() == []


def test_timeouts_follow_the_advertised_generate_times() -> None:
    def drop_confirm(who, command, payload):
        return None if isinstance(command, M.ConfirmKeyDataRequest) else payload
    pair = Pair(tamper=drop_confirm, ephemeral_data_generate_time=20,
                confirm_key_generate_time=30, timeout_margin=1.0).run()
    # V waits for U's ConfirmKeyDataRequest U's ConfirmKeyGenerateTime (30 s) + 1 s after
    # sending its ephemeral data at 0.06; U waits V's 30 s + 1 s after sending its confirm.
    assert pair.results["V"][0] == pytest.approx(0.06 + 31)
    assert pair.results["U"][0] == pytest.approx(0.08 + 31)
    assert pair.results["U"][1].outcome is Outcome.TIMEOUT
    assert pair.log[0][3][2:4] == bytes((20, 30))


def test_peer_terminate_with_unknown_status_is_reported() -> None:
    pair = Pair()
    pair.u.start()
    pair.u.receive(0x03, b"\x09\x05\x02\x00")
    r = pair.u.result
    assert r.outcome is Outcome.TERMINATED_BY_PEER and r.status == 9 and r.wait_time == 5


def test_responder_ignores_start_and_initiator_ignores_input_before_start() -> None:
    pair = Pair()
    pair.v.start()
    pair.u.receive(0x01, bytes(37))
    pair.u.receive(0x03, b"\x01\x00\x02\x00")
    assert pair.log == [] and pair.results == {}
    assert pair.clock.getDelayedCalls() == []


_COMMANDS = st.tuples(st.integers(0, 6), st.binary(max_size=90))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stage=st.integers(0, 5), junk=st.lists(_COMMANDS, min_size=1, max_size=3))
def test_junk_in_any_state_never_raises(stage: int, junk) -> None:
    pair = Pair()
    pair.u.start()
    pair.clock.advance(stage * Pair.LATENCY + 0.001)
    for command_id, payload in junk:
        pair.u.receive(command_id, payload)
        pair.v.receive(command_id, payload)
    pair.clock.advance(120)
    assert set(pair.results) == {"U", "V"}
    assert pair.clock.getDelayedCalls() == []
    if pair.results["U"][1].established:
        assert pair.results["U"][1].link_key == pair.results["V"][1].link_key


def test_constructor_rejects_out_of_range_times() -> None:
    with pytest.raises(ValueError, match="ephemeral_data_generate_time"):
        Pair(ephemeral_data_generate_time=300)
