"""GBCS codec throughput over the RTDS corpus, beside the bare C{cryptography} cost.

Run from the repository root::

    python -m benchmarks.gbcs [--rtds DIR] [--keys DIR] [--seconds S]

Prints messages per second for:

  - decode+verify: framing, MAC check (GMAC) and signature check (ECDSA) - the work a device
    or the ACB does before acting on a message; then the same plus the payload decode
    (and decryption of sensitive parts);
  - encode+MAC: building the message bytes from decoded objects and computing the MAC; then
    the same starting from the JSON tree (payload re-encoded).

Each figure stands beside the cost of the bare C{cryptography} operations the codec performs
for those messages (ECDH secrets are static and cached in both; the KDF + AES key setup is
paid per message in both, as every real message has a new counter), measured in the same run.
"Non-critical" = MAC only (no ECDSA); "all" includes signed messages.  No asserts: figures only.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocols.gbcs import catalogue
from protocols.gbcs.crypto import (MAC_AAD_PREFIX, GbcsCrypto, MessagePayloadCrypto, _MAC_KDF_BYTE, gcm_decrypt,
                                   gcm_iv, kdf_other_info)
from protocols.gbcs.framing import decode_frame
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import decode_message, encode_message, message_to_tree, protect

_ROOT = Path(__file__).resolve().parents[1]


def _rate(fn: Callable[[], int], seconds: float) -> float:
    """Messages per second: call C{fn} (which processes n messages, returns n) for ~C{seconds}."""
    fn()  # warm up
    n = 0
    start = time.perf_counter()
    while True:
        n += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


class _FreshKeys(GbcsCrypto):
    """GbcsCrypto whose derived keys are not reused between messages (as with real counters)."""

    def derived_key(self, *args, **kw):
        self._derived.clear()
        return super().derived_key(*args, **kw)


class _Recorder(GbcsCrypto):
    """Records the encrypted blobs a payload decode asks to decrypt (to time bare GCM on them)."""

    def __init__(self, store):
        super().__init__(store)
        self.blobs: list[bytes] = []

    def payload_crypto(self, gs):
        inner = super().payload_crypto(gs)
        blobs = self.blobs

        class _P(MessagePayloadCrypto):
            __slots__ = ()

            def decrypt(self, blob):
                blobs.append(bytes(blob))
                return inner.decrypt(blob)
        return _P(inner._key, inner._iv, inner.reason)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gbcs")
    p.add_argument("--rtds", default=str(_ROOT.parent / "shared" / "rtds" / "RTDS-4.5.0"))
    p.add_argument("--keys", default=str(_ROOT.parent / "shared" / "rtds" / "keystore"))
    p.add_argument("--seconds", type=float, default=1.5)
    args = p.parse_args(argv)

    store = KeyStore(args.keys)
    crypto = _FreshKeys(store)
    corpus = [bytes.fromhex(f.read_text().strip()) for f in sorted(Path(args.rtds).rglob("*.HEX"))]
    # only messages whose keys are all present, so both sides do the same work
    usable = []
    for data in corpus:
        f = decode_frame(data)
        gs = f.signing
        if f.ciphering is not None and crypto.mac_key(gs, catalogue.is_han_only(gs.message_code)).key is None:
            continue
        if gs.signature and crypto.verification_key(gs) is None:
            continue
        usable.append(data)
    non_critical = [d for d in usable if decode_frame(d).ciphering is not None and not decode_frame(d).signing.signature]
    print(f"RTDS corpus: {len(corpus)} messages, {len(usable)} with all keys, "
          f"{len(non_critical)} non-critical (MAC only)")

    try:
        decode_message(usable[0], crypto)
        payloads_ok = True
    except Exception as e:  # payload codecs missing or broken: still measure the framing figures
        print(f"(payload codec unavailable: {type(e).__name__}: {e})")
        payloads_ok = False

    # ---- bare cryptography: the operations the codec performs, per message
    def raw_plan(msgs):
        plan = []
        for data in msgs:
            f = decode_frame(data)
            gs = f.signing
            mac = None
            if f.ciphering is not None:
                a, b = crypto.mac_parties(gs, catalogue.is_han_only(gs.message_code))
                z = crypto.shared_secret(a, b)
                mac = (z, kdf_other_info(gs.originator, _MAC_KDF_BYTE[gs.cra_flag], gs.originator_counter,
                                         gs.recipient), gcm_iv(gs.originator), MAC_AAD_PREFIX + f.apdu,
                       f.ciphering.mac)
            sig = None
            if gs.signature:
                der = encode_dss_signature(int.from_bytes(gs.signature[:32], "big"),
                                           int.from_bytes(gs.signature[32:], "big"))
                sig = (crypto.verification_key(gs), der, f.signed_data)
            enc = []
            if payloads_ok:
                recorder = _Recorder(store)
                decode_message(data, recorder)
                if recorder.blobs:
                    lookup_gs = gs
                    oi = lookup_gs.other_information
                    recip = oi.supplementary_remote_party_id or gs.recipient
                    counter = oi.supplementary_originator_counter or gs.originator_counter
                    z = crypto.shared_secret(gs.originator, recip)
                    enc = [(z, kdf_other_info(gs.originator, 4, counter, recip), gcm_iv(gs.originator), b)
                           for b in recorder.blobs]
            plan.append((mac, sig, enc))
        return plan

    ecdsa = ec.ECDSA(hashes.SHA256())

    def raw_verify(plan, decrypt: bool):
        def run():
            for mac, sig, enc in plan:
                if mac is not None:
                    z, other, iv, aad, tag = mac
                    key = hashlib.sha256(b"\x00\x00\x00\x01" + z + other).digest()[:16]
                    hmac.compare_digest(AESGCM(key).encrypt(iv, b"", aad)[:12], tag)
                if sig is not None:
                    sig[0].verify(sig[1], sig[2], ecdsa)
                for z, other, iv, blob in (enc if decrypt else ()):
                    key = hashlib.sha256(b"\x00\x00\x00\x01" + z + other).digest()[:16]
                    gcm_decrypt(key, iv, blob, b"\x31")
            return len(plan)
        return run

    def raw_mac(plan, encrypt: bool):
        def run():
            for mac, _, enc in plan:
                if mac is not None:
                    z, other, iv, aad, _tag = mac
                    key = hashlib.sha256(b"\x00\x00\x00\x01" + z + other).digest()[:16]
                    AESGCM(key).encrypt(iv, b"", aad)
                for z, other, iv, blob in (enc if encrypt else ()):
                    key = hashlib.sha256(b"\x00\x00\x00\x01" + z + other).digest()[:16]
                    AESGCM(key).encrypt(iv, blob[:-12], b"\x31")
            return len(plan)
        return run

    # ---- codec
    def codec_verify(msgs, payload: bool):
        def run():
            for data in msgs:
                decode_message(data, crypto, decode_payload=payload)
            return len(msgs)
        return run

    frames = {id(d): decode_frame(d) for d in usable}

    def codec_encode(msgs):
        objs = [(frames[id(d)].signing, frames[id(d)].ciphering) for d in msgs]

        def run():
            for gs, gc in objs:
                protect(gs, crypto, gc)
            return len(objs)
        return run

    def codec_encode_tree(msgs):
        trees = [message_to_tree(decode_message(d, crypto)) for d in msgs]

        def run():
            for tree in trees:
                encode_message(tree, crypto)
            return len(trees)
        return run

    s = args.seconds
    print(f"{'operation':48} {'codec msg/s':>12} {'bare crypto msg/s':>18} {'ratio':>6}")
    for label, msgs in (("non-critical", non_critical), ("all", usable)):
        plan = raw_plan(msgs)
        rows = [(f"decode+verify, framing only ({label})", _rate(codec_verify(msgs, False), s),
                 _rate(raw_verify(plan, False), s))]
        if payloads_ok:
            rows.append((f"decode+verify+payload+decrypt ({label})", _rate(codec_verify(msgs, True), s),
                         _rate(raw_verify(plan, True), s)))
        rows.append((f"encode+MAC from objects ({label})", _rate(codec_encode(msgs), s),
                     _rate(raw_mac(plan, False), s)))
        if payloads_ok:
            rows.append((f"encode+MAC+encrypt from JSON tree ({label})", _rate(codec_encode_tree(msgs), s),
                         _rate(raw_mac(plan, True), s)))
        for name, codec_rate, raw_rate in rows:
            print(f"{name:48} {codec_rate:12.0f} {raw_rate:18.0f} {raw_rate / codec_rate:6.1f}x")
    if payloads_ok:
        _gbz_rates(corpus, crypto)


def _gbz_rates(corpus: list[bytes], crypto: GbcsCrypto) -> None:
    """GBZ payload codec alone (no framing, no crypto): decode to the tree and encode back.

    Encrypted components are decoded with their plaintext recorded beforehand, so the ZCL
    payload inside them is decoded and encoded too, without the AES cost.
    """
    from protocols.gbcs.payloads import decode_payload, encode_payload

    class _Replay:
        def __init__(self, plain: list[bytes]):
            self.plain = plain
            self.i = 0

        def decrypt(self, blob):
            p = self.plain[self.i % len(self.plain)]
            self.i += 1
            return p

        def encrypt(self, plaintext):
            return None

    items = []
    for data in corpus:
        f = decode_frame(data)
        gs = f.signing
        if not (gs.content[:2] == b"\x01\x09"):
            continue
        msg = decode_message(data, crypto)
        if msg.payload is None:
            continue
        plain = []

        class _Keep:
            def decrypt(self, blob, _pc=crypto.payload_crypto(gs)):
                p = _pc.decrypt(blob) if _pc is not None else None
                plain.append(p)
                return p

            def encrypt(self, plaintext):
                return None
        try:
            tree = decode_payload(gs.message_code, gs.cra_flag, gs.content, _Keep())
        except Exception:
            continue
        items.append((gs.message_code, gs.cra_flag, gs.content, _Replay(plain) if plain else None, tree))

    def dec():
        for mc, cra, content, pc, _ in items:
            decode_payload(mc, cra, content, pc)

    def enc():
        for _, _, _, _, tree in items:
            encode_payload(tree)
    print(f"GBZ payloads alone ({len(items)} RTDS messages; best of 15 passes, CPU time, so "
          f"that other load on the machine counts less):")
    print(f"{'  decode GBZ payload to tree':48} {len(items) / _best_cpu(dec):12.0f} msg/s")
    print(f"{'  encode GBZ payload from tree':48} {len(items) / _best_cpu(enc):12.0f} msg/s")


def _best_cpu(fn: Callable[[], None], passes: int = 15) -> float:
    """Shortest CPU time of C{passes} calls of C{fn} (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(passes):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


if __name__ == "__main__":
    main()
