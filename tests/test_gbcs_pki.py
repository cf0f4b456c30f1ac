"""Certification path validation against a Root trust anchor, ECDSA public key recovery, the
root reconstructed from RTDS certification paths, and the device outcomes they drive (CS02b /
CS02g replacements, CS02e response codes)."""

from __future__ import annotations

import datetime
import random
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emulator.clock import VirtualClock
from emulator.devices.gbcs import Esme, provision
from emulator.devices.gbcs.asn1_usecases import asn1_outcome, execute_asn1, stage_asn1_error
from emulator.pki_recovery import path_ca_certificates, reconstruct_root, replay_root, root_from_commands
from emulator.rtds_replay import main as replay_main
from protocols.gbcs.keystore import ROOT_FILE, KeyStore
from protocols.gbcs.message import decode_message
from protocols.gbcs.pki import TrustAnchor, ca_problem, issued_by, key_identifiers, recover_public_keys
from tests.gbcs_helpers import KEYSTORE, RTDS, needs_shared

ESME = 0x00DB1234567890A0
START = 1420070400.0                      # the RTDS devices' clock, 2015-01-01
CS02G = RTDS / "6.15.1_CS02gLoadControllerBySupplier"
_DS, _KA = {"bits": 1, "value": "80"}, {"bits": 5, "value": "08"}


# --------------------------------------------------------------------------- a synthetic PKI

def _key(seed: int) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(random.Random(seed).randrange(1, 2 ** 255), ec.SECP256R1())


def _name(cn: str, ou: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey,
          *, ca: bool = True, cert_sign: bool = True, not_before: datetime.datetime | None = None,
          not_after: datetime.datetime | None = None,
          aki_from: ec.EllipticCurvePrivateKey | None = None) -> x509.Certificate:
    ku = x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                       data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                       encipher_only=False, decipher_only=False)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(0x1234).not_valid_before(not_before or datetime.datetime(2015, 10, 29, tzinfo=datetime.timezone.utc))
         .not_valid_after(not_after or datetime.datetime(2040, 10, 28, tzinfo=datetime.timezone.utc))
         .add_extension(ku, critical=True).add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier(key_identifiers(key.public_key())[1]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier(key_identifiers((aki_from or issuer_key).public_key())[1], None,
                                                    None), critical=False))
    return b.sign(issuer_key, hashes.SHA256())


ROOT_NAME, CA_NAME = _name("ZA", "00"), _name("Z1", "07")
ROOT_KEY, CA_KEY, OTHER_KEY = _key(1), _key(2), _key(3)
ROOT = _cert(ROOT_NAME, ROOT_KEY, ROOT_NAME, ROOT_KEY)
ANCHOR = TrustAnchor.from_certificate(ROOT)
CA = _cert(CA_NAME, CA_KEY, ROOT_NAME, ROOT_KEY)


def _corrupt(cert: x509.Certificate) -> x509.Certificate:
    """The certificate with the last octet of its signature's s changed (as in RTDS CS02g ERROR)."""
    der = bytearray(cert.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0xC0
    return x509.load_der_x509_certificate(bytes(der))


# --------------------------------------------------------------------------- path validation

def test_a_ca_the_root_issued_chains_to_the_root():
    assert ca_problem(CA, ANCHOR, START) is None


def test_a_corrupted_ca_signature_does_not_chain():
    assert "signature" in ca_problem(_corrupt(CA), ANCHOR, START)


def test_a_ca_of_another_issuer_does_not_chain():
    other = _cert(CA_NAME, CA_KEY, _name("ZB", "00"), OTHER_KEY)
    assert "issuer" in ca_problem(other, ANCHOR, START)
    # same issuer name, another key (its key identifier names that key): refused
    forged = _cert(CA_NAME, CA_KEY, ROOT_NAME, OTHER_KEY)
    assert "key identifier" in ca_problem(forged, ANCHOR, START)
    # ... and with the root's key identifier copied in, the signature still decides
    forged = _cert(CA_NAME, CA_KEY, ROOT_NAME, OTHER_KEY, aki_from=ROOT_KEY)
    assert "signature" in ca_problem(forged, ANCHOR, START)


def test_an_expired_ca_does_not_chain():
    utc = datetime.timezone.utc
    old = _cert(CA_NAME, CA_KEY, ROOT_NAME, ROOT_KEY, not_before=datetime.datetime(2010, 1, 1, tzinfo=utc),
                not_after=datetime.datetime(2014, 12, 31, tzinfo=utc))
    assert "expired" in ca_problem(old, ANCHOR, START)
    assert ca_problem(CA, ANCHOR, datetime.datetime(2041, 1, 1, tzinfo=datetime.timezone.utc).timestamp())


def test_a_certificate_that_is_not_a_ca_does_not_chain():
    assert "not a CA" in ca_problem(_cert(CA_NAME, CA_KEY, ROOT_NAME, ROOT_KEY, ca=False), ANCHOR, START)
    assert "keyCertSign" in ca_problem(_cert(CA_NAME, CA_KEY, ROOT_NAME, ROOT_KEY, cert_sign=False), ANCHOR, START)


def test_only_a_self_signed_root_ca_is_a_trust_anchor():
    with pytest.raises(ValueError, match="OU"):
        TrustAnchor.from_certificate(CA)
    with pytest.raises(ValueError, match="self-issued"):
        TrustAnchor.from_certificate(_cert(ROOT_NAME, ROOT_KEY, _name("ZB", "00"), OTHER_KEY))
    with pytest.raises(ValueError, match="self-signature"):
        TrustAnchor.from_certificate(_corrupt(ROOT))
    with pytest.raises(ValueError, match="not a CA"):
        TrustAnchor.from_certificate(_cert(ROOT_NAME, ROOT_KEY, ROOT_NAME, ROOT_KEY, ca=False))


# --------------------------------------------------------------------------- key recovery

def test_recovered_keys_include_the_signer_and_all_verify():
    keys = recover_public_keys(CA.tbs_certificate_bytes, CA.signature, hashes.SHA256(), ec.SECP256R1())
    points = [k.public_numbers() for k in keys]
    assert ROOT_KEY.public_key().public_numbers() in points
    assert all(issued_by(CA, ROOT_NAME, k) for k in keys) and 1 <= len(keys) <= 4


def _rtds_path_cas(name: str) -> list[bytes]:
    raw = bytes.fromhex("".join((CS02G / name).read_text().split()))
    return path_ca_certificates(decode_message(raw).payload["value"])


@needs_shared
def test_the_key_recovered_from_rtds_z1_verifies_it_and_not_the_corrupted_copy():
    (genuine,) = [x509.load_der_x509_certificate(d) for d in
                  _rtds_path_cas("CS02gLoadControllerBySupplier_6.15.1_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")]
    (corrupted,) = [x509.load_der_x509_certificate(d) for d in
                    _rtds_path_cas("CS02gLoadControllerBySupplier_6.15.1_IMMEDIATE_ERROR_COMMAND_GBCS.HEX")]
    assert genuine.tbs_certificate_bytes == corrupted.tbs_certificate_bytes
    keys = recover_public_keys(genuine.tbs_certificate_bytes, genuine.signature, hashes.SHA256(), ec.SECP256R1())
    assert len(keys) == 2
    assert all(issued_by(genuine, genuine.issuer, k) and not issued_by(corrupted, corrupted.issuer, k) for k in keys)
    aki = genuine.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert [aki in key_identifiers(k) for k in keys].count(True) == 1      # Z1 names exactly one of them


@needs_shared
def test_the_root_reconstructed_from_the_rtds_paths_is_the_one_z1_names():
    anchor = root_from_commands(bytes.fromhex("".join(p.read_text().split())) for p in sorted(RTDS.rglob("*_COMMAND_GBCS.HEX")))
    assert anchor is not None and anchor.source == "reconstructed"
    assert anchor.subject.rfc4514_string() == "CN=ZA,OU=00"
    genuine = x509.load_der_x509_certificate(
        _rtds_path_cas("CS02gLoadControllerBySupplier_6.15.1_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")[0])
    corrupted = x509.load_der_x509_certificate(
        _rtds_path_cas("CS02gLoadControllerBySupplier_6.15.1_IMMEDIATE_ERROR_COMMAND_GBCS.HEX")[0])
    assert anchor.key_identifier == genuine.extensions.get_extension_for_class(
        x509.AuthorityKeyIdentifier).value.key_identifier
    assert ca_problem(genuine, anchor, START) is None
    assert "signature" in ca_problem(corrupted, anchor, START)
    # copies whose signature the key identifier refutes give no anchor at all
    assert reconstruct_root([corrupted.public_bytes(serialization.Encoding.DER)] * 4) is None


def test_without_a_key_identifier_the_best_supported_key_wins():
    def no_aki(subject, key, issuer_key):
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(ROOT_NAME).public_key(key.public_key())
             .serial_number(7).not_valid_before(datetime.datetime(2015, 1, 1))
             .not_valid_after(datetime.datetime(2040, 1, 1))
             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True))
        return b.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    a, b = no_aki(CA_NAME, CA_KEY, ROOT_KEY), no_aki(_name("Z2", "07"), OTHER_KEY, ROOT_KEY)
    bad = bytearray(a)
    bad[-1] ^= 0xC0
    # the corrupted copy of a is the most common single signature (3 against 2), but the root
    # key verifies every copy of a and b (4), a key recovered from the corrupted one only it (3)
    anchor = reconstruct_root([a, a, b, b, bytes(bad), bytes(bad), bytes(bad)])
    assert anchor.public_key.public_numbers() == ROOT_KEY.public_key().public_numbers()


# --------------------------------------------------------------------------- the key store's root

@needs_shared
def test_a_key_store_root_certificate_is_the_devices_root_anchor(tmp_path):
    store = KeyStore(KEYSTORE)
    store.set_root(ROOT)
    store.save(tmp_path)
    assert (tmp_path / ROOT_FILE).is_file()
    keys = KeyStore(tmp_path)
    assert keys.root_anchor().public_key.public_numbers() == ROOT_KEY.public_key().public_numbers()
    assert replay_root(keys, []) == keys.root_anchor()          # no reconstruction when the store has one
    device = provision(Esme, ESME, keys, VirtualClock(START), lambda m: None, rng=random.Random(1))
    assert device.security.root == keys.root_anchor()


@needs_shared
def test_a_root_file_that_is_not_a_root_is_a_user_error(tmp_path, capsys):
    keys = tmp_path / "keys"
    shutil.copytree(KEYSTORE, keys)
    (keys / ROOT_FILE).write_bytes(CA.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ValueError, match="root.pem"):
        KeyStore(keys).root_anchor()
    assert replay_main(["replay", str(RTDS / "6.24.2_CS02e"), "--keys", str(keys)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("smets rtds replay: error: --keys:") and "root.pem" in err[0]


# --------------------------------------------------------------------------- device outcomes

def _cs02g_value(name: str) -> dict:
    raw = bytes.fromhex("".join((CS02G / name).read_text().split()))
    return decode_message(raw).payload["value"]


def _esme(root: TrustAnchor | None):
    return provision(Esme, ESME, KeyStore(KEYSTORE), VirtualClock(START), lambda m: None, rng=random.Random(1),
                     root=root)


@pytest.fixture(scope="module")
def rtds_root():
    return root_from_commands(bytes.fromhex("".join(p.read_text().split())) for p in sorted(CS02G.glob("*_COMMAND_GBCS.HEX")))


def _statuses(device, value) -> list[str]:
    outcome = asn1_outcome(device, 0x0126, value, commit=False)["executionOutcome"]
    return [o["statusCode"] for o in outcome["replacementOutcomes"]]


@needs_shared
def test_the_device_accepts_the_genuine_path_and_refuses_the_corrupted_one(rtds_root):
    device = _esme(rtds_root)
    genuine = _cs02g_value("CS02gLoadControllerBySupplier_6.15.1_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")
    corrupted = _cs02g_value("CS02gLoadControllerBySupplier_6.15.1_IMMEDIATE_ERROR_COMMAND_GBCS.HEX")
    assert _statuses(device, genuine) == ["success", "success"]
    assert _statuses(device, corrupted) == ["noTrustAnchor", "noTrustAnchor"]
    # a device whose root is another key refuses even the genuine path
    assert _statuses(_esme(ANCHOR), genuine) == ["noTrustAnchor", "noTrustAnchor"]
    # without a Root cell the device cannot validate the path: it takes the CA as given
    assert _statuses(_esme(None), corrupted) == ["success", "success"]


@needs_shared
def test_a_future_dated_update_with_a_corrupted_path_fails_at_its_time(rtds_root):
    sent: list = []
    clock = VirtualClock(START)
    device = provision(Esme, ESME, KeyStore(KEYSTORE), clock, sent.append, rng=random.Random(1), root=rtds_root)
    value = _cs02g_value("CS02gLoadControllerBySupplier_6.15.1_FUTURE_DATED_ERROR_COMMAND_GBCS.HEX")
    assert asn1_outcome(device, 0x0126, value, commit=True) == {"commandAccepted": None}
    cells = dict(device.security.cells)
    due = datetime.datetime.strptime(value["executionDateTime"]["generalized_time"], "%Y%m%d%H%M%SZ")
    clock.run_until(due.replace(tzinfo=datetime.timezone.utc).timestamp() + 1.0)
    assert len(sent) == 1 and device.security.cells == cells
    alert = decode_message(sent[0]).payload
    assert alert["value"]["alertCode"] == 0x8F67


@needs_shared
def test_provide_device_certificate_answers_each_response_code():
    device = _esme(None)
    cert = asn1_outcome(device, 0x000C, {"keyUsage": _KA}, commit=True)
    assert x509.load_der_x509_certificate(bytes.fromhex(cert["der"])) == KeyStore(KEYSTORE).certificate(ESME, "ka")
    assert asn1_outcome(device, 0x000C, {"keyUsage": {"bits": 6, "value": "04"}}, commit=True) == 1
    stranger = provision(Esme, 0x00DB1234567890FF, KeyStore(KEYSTORE), VirtualClock(START), lambda m: None,
                         rng=random.Random(1))
    assert asn1_outcome(stranger, 0x000C, {"keyUsage": _DS}, commit=True) == 2
    assert stage_asn1_error(device, 0x000C, {"keyUsage": _KA})
    assert asn1_outcome(device, 0x000C, {"keyUsage": _KA}, commit=True) == 3
    # invalid key usage is still named as such; the response encodes as the response code type
    assert asn1_outcome(device, 0x000C, {"keyUsage": {"bits": 6, "value": "04"}}, commit=True) == 1
    tree = execute_asn1(device, 0x000C, {"kind": "asn1", "value": {"keyUsage": _DS}})
    assert tree["asn1_type"] == "ProvideDeviceCertificateResponseCode" and tree["value"] == 3
