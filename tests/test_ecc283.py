"""sect283k1 arithmetic (protocols.zigbee.ecc283) checked against OpenSSL's binary-curve code.

The domain parameters are compared with ``openssl ecparam -param_enc explicit``; public keys
and compressed encodings with keys OpenSSL generated; ECDH with ``openssl pkeyutl -derive``
on OpenSSL's keys and on keys we made (written as DER for OpenSSL to load).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from protocols.errors import CodecError
from protocols.zigbee import ecc283 as E


# -- OpenSSL helpers --------------------------------------------------------------------------

def _openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is required under CI for the sect283k1 cross-checks")
        pytest.skip("openssl not installed")
    if "sect283k1" not in subprocess.run([path, "ecparam", "-list_curves"], check=True,
                                         capture_output=True, text=True).stdout:
        pytest.fail("the installed openssl has no binary curves (EC2M); cannot cross-check")
    return path


def _run(*args: str) -> bytes:
    return subprocess.run([_openssl(), *args], check=True, capture_output=True).stdout


def _hex_block(text: str, label: str) -> int:
    m = re.search(rf"^{re.escape(label)}\s*\n((?:\s+[0-9a-f:]+\n)+)", text, re.M)
    assert m, f"{label} not found in openssl output"
    return int(re.sub(r"[\s:]", "", m.group(1)), 16)


def _openssl_key(tmp_path, name: str) -> tuple[str, int, bytes]:
    """Generate a key with OpenSSL; return (pem path, private scalar, uncompressed public)."""
    pem = str(tmp_path / f"{name}.pem")
    _run("ecparam", "-name", "sect283k1", "-genkey", "-noout", "-out", pem)
    text = _run("ec", "-in", pem, "-text", "-noout").decode()
    d = _hex_block(text, "priv:")
    pub = _hex_block(text, "pub:").to_bytes(E.UNCOMPRESSED_POINT_OCTETS, "big")
    return pem, d, pub


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    length = bytes((n,)) if n < 0x80 else bytes((0x81, n)) if n < 0x100 else \
        bytes((0x82,)) + n.to_bytes(2, "big")
    return bytes((tag,)) + length + body


_OID_SECT283K1 = bytes.fromhex("06052b81040010")          # 1.3.132.0.16
_OID_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")  # 1.2.840.10045.2.1


def _private_key_der(d: int) -> bytes:
    """RFC 5915 ECPrivateKey for our key, so OpenSSL can load it."""
    pub = E.encode_point(E.public_key(d), compressed=False)
    return _der(0x30, _der(0x02, b"\x01") + _der(0x04, d.to_bytes(36, "big"))
                + _der(0xA0, _OID_SECT283K1) + _der(0xA1, _der(0x03, b"\x00" + pub)))


def _public_key_der(point: E.Point) -> bytes:
    """RFC 5480 SubjectPublicKeyInfo."""
    return _der(0x30, _der(0x30, _OID_EC_PUBLIC_KEY + _OID_SECT283K1)
                + _der(0x03, b"\x00" + E.encode_point(point, compressed=False)))


# -- domain parameters and field --------------------------------------------------------------

def test_domain_parameters_match_openssl() -> None:
    text = _run("ecparam", "-name", "sect283k1", "-param_enc", "explicit", "-text",
                "-noout").decode()
    assert _hex_block(text, "Polynomial:") == E.REDUCTION_POLYNOMIAL
    assert re.search(r"^A:\s+0\b", text, re.M) and E.A == 0
    assert re.search(r"^B:\s+1 \(0x1\)", text, re.M) and E.B == 1
    gen = _hex_block(text, "Generator (uncompressed):").to_bytes(73, "big")
    assert E.decode_point(gen) == E.G
    assert _hex_block(text, "Order:") == E.N
    assert re.search(r"^Cofactor:\s+4 ", text, re.M) and E.H == 4


def _schoolbook(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        b >>= 1
    for i in range(r.bit_length() - 1, E.M - 1, -1):
        if r >> i & 1:
            r ^= E.REDUCTION_POLYNOMIAL << (i - E.M)
    return r


_elements = st.integers(min_value=0, max_value=(1 << E.M) - 1)


@settings(max_examples=200, deadline=None)
@given(_elements, _elements)
def test_field_mul_and_square_match_schoolbook(a: int, b: int) -> None:
    assert E.field_mul(a, b) == _schoolbook(a, b)
    assert E.field_square(a) == _schoolbook(a, a)


@settings(max_examples=50, deadline=None)
@given(_elements.filter(bool))
def test_field_inverse(a: int) -> None:
    assert E.field_mul(a, E.field_inverse(a)) == 1


def test_field_inverse_of_zero_raises() -> None:
    with pytest.raises(ZeroDivisionError):
        E.field_inverse(0)


# -- group -------------------------------------------------------------------------------------

def test_base_point_on_curve_and_of_order_n() -> None:
    assert E.is_on_curve(E.G)
    assert E.scalar_mult(E.N, E.G).is_infinity
    assert E.scalar_mult(E.N - 1, E.G) == E.point_neg(E.G)
    assert E.scalar_mult(E.N + 5, E.G) == E.scalar_mult(5, E.G)
    assert E.scalar_mult(0, E.G).is_infinity
    assert E.scalar_mult(1, E.G) == E.G


def test_ladder_agrees_with_affine_double_and_add() -> None:
    rng = random.Random(283)
    p = E.G
    acc = E.INFINITY
    for k in range(1, 40):
        acc = E.point_add(acc, p)
        assert E.scalar_mult(k, p) == acc
    for _ in range(5):
        a, b = E.private_key_from_rng(rng), E.private_key_from_rng(rng)
        pa, pb = E.multiply_base(a), E.multiply_base(b)
        assert E.is_on_curve(pa)
        assert E.point_add(pa, pb) == E.multiply_base((a + b) % E.N)
        assert E.point_double(pa) == E.multiply_base(2 * a % E.N)
        assert E.point_add(pa, E.point_neg(pa)).is_infinity
        assert E.scalar_mult(a, pb) == E.scalar_mult(b, pa)


def test_tau_adic_and_ladder_agree() -> None:
    """The two scalar multiplications share no code beyond the field: they must agree, on
    subgroup points, on points with a small-order component and for scalars above n."""
    rng = random.Random(281)
    t2 = E.Point(0, 1)
    outside = E.point_add(E.G, t2)                 # order 2n: not in the subgroup
    assert E.is_on_curve(outside)
    points = [E.G, outside, t2, E.multiply_base(E.private_key_from_rng(rng))]
    scalars = [1, 2, 3, 4, 5, 6, 7, E.N - 1, E.N, E.N + 1, 4 * E.N, 2 * E.N + 1,
               rng.getrandbits(128), rng.getrandbits(283), rng.getrandbits(300)]
    for p in points:
        for k in scalars:
            assert E.scalar_mult(k, p) == E.scalar_mult_ladder(k, p), (p, k)
        assert E.scalar_mult(-5, p) == E.scalar_mult_ladder(-5, p)
    assert not E.scalar_mult(E.N, outside).is_infinity
    assert E.scalar_mult(2 * E.N, outside).is_infinity


def test_tau_adic_expansion() -> None:
    assert E._ETA[0] ** 2 - E._ETA[0] * E._ETA[1] + 2 * E._ETA[1] ** 2 == E.H * E.N
    rng = random.Random(6)
    for _ in range(20):
        k = rng.getrandbits(290)
        rho = E._reduce_scalar(k)
        digits = E.tau_naf(*rho)
        assert len(digits) <= E.M + 3
        assert all(not (a and b) for a, b in zip(digits, digits[1:]))      # NAF
        value = (0, 0)
        for u in reversed(digits):                                          # Horner in Z[tau]
            value = E._ztau_mul(*value, 0, 1)
            value = (value[0] + u, value[1])
        assert value == rho


def test_point_of_order_two() -> None:
    t = E.Point(0, 1)               # (0, sqrt(b))
    assert E.is_on_curve(t)
    assert E.point_double(t).is_infinity
    assert E.scalar_mult(3, t) == t and E.scalar_mult(4, t).is_infinity
    assert E.decode_point(E.encode_point(t)) == t


def test_compress_decompress_round_trip() -> None:
    rng = random.Random(37)
    seen_bits = set()
    for _ in range(20):
        p = E.multiply_base(E.private_key_from_rng(rng))
        enc = E.encode_point(p)
        assert len(enc) == 37 and enc[0] in (2, 3)
        seen_bits.add(enc[0])
        assert E.decode_point(enc) == p
        assert E.decode_point(E.encode_point(p, compressed=False)) == p
        assert E.decode_point(E.encode_point(E.point_neg(p))) == E.point_neg(p)
    assert seen_bits == {2, 3}


def test_decode_rejects_bad_encodings() -> None:
    good = E.encode_point(E.G)
    with pytest.raises(CodecError, match="37 octets"):
        E.decode_point(good[:-1])
    with pytest.raises(CodecError, match="prefix 0x05"):
        E.decode_point(b"\x05" + good[1:])
    with pytest.raises(CodecError, match="infinity"):
        E.decode_point(b"\x00")
    with pytest.raises(CodecError, match="above x"):
        E.decode_point(b"\x02" + b"\xff" * 36)
    # half of all x have no point: find one and check it is refused
    x = 1
    while True:
        x += 1
        try:
            E.decode_point(b"\x02" + x.to_bytes(36, "big"))
        except CodecError as exc:
            assert "not the x-coordinate" in str(exc)
            break
    off_curve = E.Point(E.G.x, E.G.y ^ 1)
    with pytest.raises(CodecError, match="not on sect283k1") as info:
        E.decode_point(E.encode_point(off_curve, compressed=False), "peer_key", 10)
    assert info.value.field == "peer_key" and info.value.offset == 10


# -- against OpenSSL ---------------------------------------------------------------------------

def test_public_keys_and_compressed_form_match_openssl(tmp_path) -> None:
    for i in range(3):
        pem, d, pub = _openssl_key(tmp_path, f"k{i}")
        q = E.public_key(d)
        assert E.encode_point(q, compressed=False) == pub
        spki = _run("ec", "-in", pem, "-pubout", "-conv_form", "compressed", "-outform", "DER")
        assert spki.endswith(E.encode_point(q))          # OpenSSL's compressed point
        assert E.decode_point(spki[-37:]) == q


def test_ecdh_matches_openssl_pkeyutl_derive(tmp_path) -> None:
    pem_a, d_a, pub_a = _openssl_key(tmp_path, "a")
    pem_b, d_b, pub_b = _openssl_key(tmp_path, "b")
    pub_b_pem = str(tmp_path / "b.pub.pem")
    _run("ec", "-in", pem_b, "-pubout", "-out", pub_b_pem)
    theirs = _run("pkeyutl", "-derive", "-inkey", pem_a, "-peerkey", pub_b_pem)
    assert len(theirs) == 36
    assert E.ecdh(d_a, E.decode_point(pub_b)) == theirs
    assert E.ecdh(d_b, E.decode_point(pub_a)) == theirs


def test_ecdh_with_our_keys_matches_openssl(tmp_path) -> None:
    rng = random.Random(20261201)
    d_ours = E.private_key_from_rng(rng)
    ours = tmp_path / "ours.der"
    ours.write_bytes(_private_key_der(d_ours))
    pem_peer, d_peer, pub_peer = _openssl_key(tmp_path, "peer")
    peer_spki = tmp_path / "peer.der"
    peer_spki.write_bytes(_public_key_der(E.decode_point(pub_peer)))
    theirs = _run("pkeyutl", "-derive", "-inkey", str(ours), "-keyform", "DER",
                  "-peerkey", str(peer_spki), "-peerform", "DER")
    assert theirs == E.ecdh(d_ours, E.decode_point(pub_peer))
    # OpenSSL's view of our public key is ours
    text = _run("ec", "-in", str(ours), "-inform", "DER", "-text", "-noout").decode()
    assert _hex_block(text, "pub:").to_bytes(73, "big") == \
        E.encode_point(E.public_key(d_ours), compressed=False)


def test_cofactor_ecdh() -> None:
    rng = random.Random(4)
    a, b = E.private_key_from_rng(rng), E.private_key_from_rng(rng)
    qa, qb = E.public_key(a), E.public_key(b)
    assert E.ecdh_cofactor(a, qb) == E.ecdh_cofactor(b, qa) == E.ecdh(4 * a % E.N, qb)
    with pytest.raises(ValueError, match="infinity"):
        E.ecdh(E.N, qb)
