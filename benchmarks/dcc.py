"""DCC transform throughput: DUIS service requests to GBCS commands, per second per core.

Run from the repository root::

    python -m benchmarks.dcc [--templates DIR] [--keys DIR] [--seconds S]

Workload: every DUIS template (duis-templates) whose use case the transform builds, each sent
again and again with a new originator counter (so every command needs a fresh KDF, as in
real traffic).  Prints requests per second for:

  - non-critical: RBAC + transform (use case, payload, grouping header) + the ACB's MAC;
    also with the DUIS request parsed and checked first by L{protocols.duis.request.parse_request}
    (lxml, the envelope checks: RequestID, CommandVariant, service reference and variant
    against the request matrix), each request a new document (a new RequestID counter in its
    bytes: nothing parsed is reused);
  - critical: transform to the pre-command, then the signed pre-command checked (same bytes,
    ECDSA verify with the user's DS key) and MACed; the user's signing is done beforehand;
    also through the DUIS documents (the request parsed at serviceT, the User's
    C{sr:SignedPreCommand} parsed at serviceS);

  - non-critical with the gateway's XML-DSig check of the request as well (ECDSA P-256 over
    the exclusive-C14N digest; the User signed each document beforehand);

each beside the bare C{cryptography} cost of the same messages (KDF + AES-GCM key setup +
GMAC; plus ECDSA verify for critical), measured in the same run.  Each figure is the best of five
rounds (the machine may be shared), timed in the process's CPU time (C{time.process_time}: the
figure is per core, whatever else the machine runs).  No asserts: figures only.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Callable
from xml.etree import ElementTree

from lxml import etree

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocols.acb import RequestError, Transformer
from protocols.duis import codes
from protocols.duis.errors import DuisError
from protocols.duis.matrix import load_matrix
from protocols.duis.rbac import eligible_roles
from protocols.duis import xmldsig
from protocols.duis.request import parse_request
from protocols.acb.request import DUIS_NS, TransformRequest, parse_request_id
from protocols.gbcs.crypto import MAC_AAD_PREFIX, GbcsCrypto, gcm_iv, kdf_other_info
from protocols.gbcs.framing import decode_frame, signed_bytes
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import sign_precommand

_ROOT = Path(__file__).resolve().parents[1]
_SHARED = _ROOT / ".." / "shared"
#: RTDS inventory: device types of the RTDS test devices (wire-format notes 1.3).
_RTDS_TYPES = {0x00DB1234567890A0: "ESME", 0x00DB1234567890A1: "GSME", 0x00DB1234567890A2: "CHF",
               0x00DB1234567890A3: "GPF", 0x00DB1234567890A4: "PPMID", 0x00DB1234567890A5: "HCALCS",
               0x00DB1234567890A6: "ESME"}
_ROLE_BY_ORIGINATOR = {0x90B3D51F30010000: "IS", 0x90B3D51F30020000: "ED", 0x90B3D51F30030000: "IS"}


class _Clock:
    def seconds(self) -> float:
        return 1420070400.0


def _rate(fn: Callable[[], int], seconds: float, rounds: int = 5) -> float:
    """Items per second: the best of C{rounds} rounds of C{seconds / rounds} each (like C{timeit},
    the best round is the one least disturbed by other work on the machine)."""
    fn()
    best = 0.0
    for _ in range(rounds):
        n = 0
        start = time.process_time()
        while True:
            n += fn()
            elapsed = time.process_time() - start
            if elapsed >= seconds / rounds:
                break
        best = max(best, n / elapsed)
    return best


def _load(templates: Path) -> list[tuple[bytes, TransformRequest]]:
    ns = {"sr": DUIS_NS}
    out = []
    for p in sorted(templates.glob("*.XML")):
        raw = p.read_bytes()
        root = ElementTree.fromstring(raw)
        header = root.find("sr:Header", ns)
        body = root.find("sr:Body", ns)
        if header is None or body is None or len(body) == 0:
            continue
        try:
            o, t, c = parse_request_id(header.findtext("sr:RequestID", "", ns))
        except RequestError:
            continue
        if t not in _RTDS_TYPES:
            continue
        out.append((raw, TransformRequest(header.findtext("sr:ServiceReferenceVariant", "", ns).strip(),
                                          body[0], o, t, c, _RTDS_TYPES[t])))
    return out


def _parse(raw: bytes, device_types: dict[int, str], role: str) -> TransformRequest:
    """The DCC's path: DUIS parse and envelope checks, role check, the ACB's request."""
    req = parse_request(raw)
    eligible_roles(req.definition, {role})
    rid = req.request_id
    d = req.definition
    return TransformRequest(d.variant, req.body, rid.originator, rid.target, rid.counter,
                            device_types[rid.target], 4 if d.critical else 1)


def _request_id(raw: bytes) -> bytes:
    start = raw.index(b"RequestID>") + len(b"RequestID>")
    return raw[start:raw.index(b"<", start)].strip()


def _with_counter(raw: bytes, counter: int) -> bytes:
    """The request document with a new RequestID counter (the same request, sent again)."""
    start = raw.index(b"RequestID>") + len(b"RequestID>")
    end = raw.index(b"<", start)
    head = raw[start:end].rsplit(b":", 1)[0]
    return raw[:start] + head + b":" + str(counter).encode("ascii") + raw[end:]


def authorise(variant: str, role: str) -> None:
    """The DCC's role check of a request (the gateway's: L{protocols.duis.rbac})."""
    definition = load_matrix().get(variant)
    if definition is None:
        raise DuisError(codes.SERVICE_REFERENCE, "Header.ServiceReferenceVariant", f"unknown variant {variant}")
    eligible_roles(definition, {role})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.dcc", description=__doc__.split("\n")[0])
    ap.add_argument("--templates", default=str(_SHARED / "duis-templates"))
    ap.add_argument("--keys", default=str(_SHARED / "rtds" / "keystore"))
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args(argv)

    crypto = GbcsCrypto(KeyStore(args.keys))
    transformer = Transformer(crypto, _Clock())
    non_critical: list[tuple[bytes, TransformRequest, str]] = []
    critical: list[tuple[TransformRequest, str]] = []
    critical_raw: list[tuple[bytes, TransformRequest, str]] = []
    for raw, req in _load(Path(args.templates)):
        role = _ROLE_BY_ORIGINATOR.get(req.originator, "IS")
        try:
            authorise(req.service_reference_variant, role)
            r = transformer.transform(req)
        except (RequestError, DuisError):
            continue
        if r.critical:
            critical.append((req, role))
            critical_raw.append((raw, req, role))
        else:
            non_critical.append((raw, req, role))
    print(f"workload: {len(non_critical)} non-critical and {len(critical)} critical template requests "
          f"(use cases the transform builds)")

    counter = [10_000_000]

    def fresh(req: TransformRequest) -> TransformRequest:
        counter[0] += 1
        return dataclasses.replace(req, counter=counter[0])

    def run_non_critical() -> int:
        for _, req, role in non_critical:
            authorise(req.service_reference_variant, role)
            transformer.transform(fresh(req))
        return len(non_critical)

    def run_parse_non_critical() -> int:
        for raw, req, role in non_critical:
            counter[0] += 1
            transformer.transform(_parse(_with_counter(raw, counter[0]), _RTDS_TYPES, role))
        return len(non_critical)

    def run_parse_only() -> int:
        for raw, req, role in non_critical:
            counter[0] += 1
            parse_request(_with_counter(raw, counter[0]))
        return len(non_critical)

    # with the gateway's XML signature check too: each document signed beforehand by its User
    # (their work), each a different document; a pass re-parses and re-verifies every one, and
    # transforms it with a new counter (a new KDF, as for a new request)
    keystore = crypto.keystore
    signed_docs = []
    for raw, req, role in non_critical[:200]:
        counter[0] += 1
        root = etree.fromstring(_with_counter(raw, counter[0]))
        xmldsig.sign(root, keystore.private_key(req.originator, "ds"), keystore.certificate(req.originator, "ds"))
        signed_docs.append((etree.tostring(root), keystore.public_key(req.originator, "ds"), role))

    def run_signed_non_critical() -> int:
        counter[0] += 1_000
        for raw, public, role in signed_docs:
            r = parse_request(raw)
            xmldsig.verify(r.document, public)
            eligible_roles(r.definition, {role})
            rid = r.request_id
            transformer.transform(TransformRequest(r.definition.variant, r.body, rid.originator, rid.target,
                                                   rid.counter + counter[0], _RTDS_TYPES[rid.target]))
        return len(signed_docs)

    # critical: the users sign their pre-commands beforehand (their work, not the DCC's)
    batch = []
    for _ in range(max(1, 400 // max(1, len(critical)))):
        for req, role in critical:
            req2 = fresh(req)
            pre = transformer.transform(req2)
            batch.append((req2, role, sign_precommand(pre.precommand, crypto)))

    def run_critical() -> int:
        n = 0
        for req, role, signed in batch:
            authorise(req.service_reference_variant, role)
            result = transformer.transform(req)
            transformer.complete(result, signed)
            n += 1
        return n

    # critical through DUIS documents: the request (serviceT: parse, RBAC, transform to the
    # pre-command) and the User's sr:SignedPreCommand (serviceS: parse, signature check, MAC)
    doc_batch = []
    for _ in range(max(1, 200 // max(1, len(critical_raw)))):
        for raw, req, role in critical_raw:
            counter[0] += 1
            doc = _with_counter(raw, counter[0])
            pre = transformer.transform(_parse(doc, _RTDS_TYPES, role)).precommand
            signed_doc = (b'<sr:SignedPreCommand xmlns:sr="' + DUIS_NS.encode() + b'" schemaVersion="5.1">'
                          b"<sr:Header><sr:RequestID>" + _request_id(doc) + b"</sr:RequestID>"
                          b"<sr:CommandVariant>5</sr:CommandVariant></sr:Header><sr:GBCSPayload>"
                          + base64.b64encode(sign_precommand(pre, crypto)) + b"</sr:GBCSPayload></sr:SignedPreCommand>")
            doc_batch.append((doc, role, signed_doc))

    def run_critical_documents() -> int:
        for doc, role, signed_doc in doc_batch:
            result = transformer.transform(_parse(doc, _RTDS_TYPES, role))
            transformer.complete(result, parse_request(signed_doc).gbcs_payload)
        return len(doc_batch)

    # bare crypto of the same messages: KDF + key setup + GMAC (+ ECDSA verify)
    samples = [transformer.transform(fresh(req)) for _, req, _ in non_critical]
    secret = crypto.shared_secret(crypto.acb_eui, samples[0].header.recipient)
    apdus = [decode_frame(s.command).apdu for s in samples]

    def bare_mac() -> int:
        for s, apdu in zip(samples, apdus):
            counter[0] += 1
            gs = s.header
            key = hashlib.sha256(b"\x00\x00\x00\x01" + secret + kdf_other_info(gs.originator, 1, counter[0],
                                                                               gs.recipient)).digest()[:16]
            AESGCM(key).encrypt(gcm_iv(gs.originator), b"", MAC_AAD_PREFIX + apdu)
        return len(samples)

    signed_frames = [decode_frame(s) for _, _, s in batch]
    pubs = [crypto.verification_key(f.signing) for f in signed_frames]

    def bare_critical() -> int:
        for f, pub in zip(signed_frames, pubs):
            gs = f.signing
            sig = gs.signature
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            pub.verify(der, signed_bytes(gs), ec.ECDSA(hashes.SHA256()))
            counter[0] += 1
            key = hashlib.sha256(b"\x00\x00\x00\x01" + secret + kdf_other_info(gs.originator, 1, counter[0],
                                                                               gs.recipient)).digest()[:16]
            AESGCM(key).encrypt(gcm_iv(gs.originator), b"", MAC_AAD_PREFIX + f.apdu)
        return len(signed_frames)

    s = args.seconds
    nc = _rate(run_non_critical, s)
    ncp = _rate(run_parse_non_critical, s)
    po = _rate(run_parse_only, s)
    sg = _rate(run_signed_non_critical, s)
    bm = _rate(bare_mac, s)
    cr = _rate(run_critical, s) if batch else 0.0
    crd = _rate(run_critical_documents, s) if doc_batch else 0.0
    bc = _rate(bare_critical, s) if batch else 0.0
    print(f"non-critical: RBAC + transform + MAC          {nc:10.0f} requests/s/core   (bare crypto: {bm:10.0f}/s)")
    print(f"non-critical: DUIS parse + RBAC + transform + MAC {ncp:6.0f} requests/s/core   "
          f"(DUIS parse alone: {po:.0f}/s)")
    print(f"non-critical: the same + the request's XML signature check {sg:6.0f} requests/s/core")
    print(f"critical: transform + signature check + MAC   {cr:10.0f} requests/s/core   (bare crypto: {bc:10.0f}/s)")
    print(f"critical: DUIS parse of request and signed pre-command + RBAC + transform + signature check + MAC "
          f"{crd:6.0f} requests/s/core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
