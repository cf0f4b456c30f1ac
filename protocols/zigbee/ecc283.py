"""The Koblitz curve sect283k1 over GF(2^283), in pure Python.

Implements the curve used by ZigBee Smart Energy 1.4 (07-5356) Annex C crypto suite 2
(CBKE-ECMQV on sect283k1), with the domain parameters of SEC 2 v2.0 section 3.4.1
(``sect283k1``, also NIST K-283):

 - the field GF(2^283) in polynomial basis, reduction polynomial
   f(x) = x^283 + x^12 + x^7 + x^5 + 1 (SEC 2 3.4.1); elements are Python ints whose bit i is
   the coefficient of x^i, so the SEC 1 2.3.5 octet encoding of an element is simply the
   36-octet big-endian encoding of that int;
 - the curve y^2 + xy = x^3 + a x^2 + b with a = 0, b = 1, base point G, order n and
   cofactor h = 4;
 - point encoding and decoding (SEC 1 2.3.3 / 2.3.4), compressed (37 octets, the form ZigBee
   uses for public keys) and uncompressed (73 octets);
 - scalar multiplication with the tau-adic NAF of Koblitz curves (Solinas; Hankerson,
   Menezes, Vanstone, "Guide to Elliptic Curve Cryptography" 3.4: Frobenius maps and
   mixed Lopez-Dahab/affine additions, Algorithms 3.61 and 3.25), and, as an independent
   reference the tests compare it with, the Montgomery ladder in Lopez-Dahab x-coordinates
   with y-recovery (HMV Algorithm 3.40);
 - the elliptic-curve Diffie-Hellman primitive of SEC 1 3.3.1 (the plain form, as OpenSSL's
   ``pkeyutl -derive`` computes it) and the cofactor form.

Field multiplication is a 4-bit-window comb over Python ints; squaring spreads the bits with
masked shifts.  ``python -m benchmarks.cbke`` prints how long one scalar multiplication takes.

Decoding raises L{protocols.errors.CodecError} naming the field and the offset; arithmetic on
valid inputs never raises.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.errors import CodecError

__all__ = [
    "M", "A", "B", "N", "H", "G", "INFINITY", "FIELD_OCTETS", "COMPRESSED_POINT_OCTETS",
    "UNCOMPRESSED_POINT_OCTETS", "Point", "field_mul", "field_square", "field_inverse",
    "field_to_octets", "field_from_octets", "is_on_curve", "point_add", "point_neg",
    "point_double", "scalar_mult", "scalar_mult_ladder", "tau_naf", "multiply_base",
    "encode_point", "decode_point",
    "private_key_from_rng", "public_key", "ecdh", "ecdh_cofactor",
]

#: Extension degree of the field GF(2^M).
M = 283
#: The reduction polynomial x^283 + x^12 + x^7 + x^5 + 1.
REDUCTION_POLYNOMIAL = (1 << 283) | (1 << 12) | (1 << 7) | (1 << 5) | 1
_MASK = (1 << M) - 1

#: Curve coefficients (SEC 2 3.4.1): a Koblitz curve, y^2 + xy = x^3 + 1.
A = 0
B = 1
#: Order of the base point and the cofactor.
N = 0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFE9AE2ED07577265DFF7F94451E061E163C61
H = 4

#: Octets of one field element (ceil(283 / 8)).
FIELD_OCTETS = 36
COMPRESSED_POINT_OCTETS = 1 + FIELD_OCTETS
UNCOMPRESSED_POINT_OCTETS = 1 + 2 * FIELD_OCTETS


# -- the field ---------------------------------------------------------------------------------

def _reduce(c: int) -> int:
    """Reduce a polynomial of degree < 2 * 283 modulo f(x)."""
    while c >> 283:
        hi = c >> 283
        c = (c & _MASK) ^ hi ^ (hi << 5) ^ (hi << 7) ^ (hi << 12)
    return c


def field_mul(a: int, b: int) -> int:
    """Return a * b in GF(2^283) (4-bit window comb, one table of the multiples of C{a})."""
    a2 = a << 1
    a3 = a2 ^ a
    a4 = a << 2
    a8 = a << 3
    t = (0, a, a2, a3, a4, a4 ^ a, a4 ^ a2, a4 ^ a3,
         a8, a8 ^ a, a8 ^ a2, a8 ^ a3, a8 ^ a4, a8 ^ a4 ^ a, a8 ^ a4 ^ a2, a8 ^ a4 ^ a3)
    r = 0
    for byte in b.to_bytes(FIELD_OCTETS, "big"):
        r = (r << 8) ^ (t[byte >> 4] << 4) ^ t[byte & 15]
    return _reduce(r)


def _interleave_mask(shift: int, width: int = 2 * FIELD_OCTETS * 8) -> int:
    """Blocks of C{shift} one bits separated by C{shift} zero bits, C{width} bits long."""
    block = (1 << shift) - 1
    mask = 0
    for i in range(0, width, 2 * shift):
        mask |= block << i
    return mask


_M256, _M128, _M64, _M32, _M16, _M8, _M4, _M2, _M1 = (
    _interleave_mask(s) for s in (256, 128, 64, 32, 16, 8, 4, 2, 1))


def field_square(a: int) -> int:
    """Return a^2 in GF(2^283).

    Squaring in characteristic 2 interleaves zero bits (bit i moves to bit 2i); the spread is
    done for all bits at once by halving shifts ("Morton" interleave), then reduced.
    """
    a = (a | (a << 256)) & _M256
    a = (a | (a << 128)) & _M128
    a = (a | (a << 64)) & _M64
    a = (a | (a << 32)) & _M32
    a = (a | (a << 16)) & _M16
    a = (a | (a << 8)) & _M8
    a = (a | (a << 4)) & _M4
    a = (a | (a << 2)) & _M2
    a = (a | (a << 1)) & _M1
    return _reduce(a)


def field_inverse(a: int) -> int:
    """Return a^-1 in GF(2^283) (extended Euclid over GF(2)[x]); C{a} must be non-zero."""
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in GF(2^283)")
    u, v = a, REDUCTION_POLYNOMIAL
    g1, g2 = 1, 0
    while u != 1:
        j = u.bit_length() - v.bit_length()
        if j < 0:
            u, v = v, u
            g1, g2 = g2, g1
            j = -j
        u ^= v << j
        g1 ^= g2 << j
    return _reduce(g1)


def _half_trace(c: int) -> int:
    """Return sum_{i=0}^{(m-1)/2} c^(2^(2i)), a solution z of z^2 + z = c when Tr(c) = 0."""
    h = c
    for _ in range((M - 1) // 2):
        c = field_square(field_square(c))
        h ^= c
    return h


def field_to_octets(a: int) -> bytes:
    """SEC 1 2.3.5 field-element-to-octet-string conversion (36 octets, big-endian)."""
    return a.to_bytes(FIELD_OCTETS, "big")


def field_from_octets(data: bytes, field: str = "field_element", offset: int = 0) -> int:
    """SEC 1 2.3.6 octet-string-to-field-element conversion."""
    if len(data) != FIELD_OCTETS:
        raise CodecError(field, offset, f"field element must be {FIELD_OCTETS} octets, "
                                        f"got {len(data)}")
    value = int.from_bytes(data, "big")
    if value >> M:
        raise CodecError(field, offset, "field element has bits set above x^282")
    return value


# -- points ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Point:
    """An affine point on sect283k1; C{x = y = None} is the point at infinity."""

    x: int | None
    y: int | None

    @property
    def is_infinity(self) -> bool:
        return self.x is None


INFINITY = Point(None, None)

#: The base point G (SEC 2 3.4.1).
G = Point(
    0x0503213F78CA44883F1A3B8162F188E553CD265F23C1567A16876913B0C2AC2458492836,
    0x01CCDA380F1C9E318D90F95D07E5426FE87E45C0E8184698E45962364E34116177DD2259,
)


def is_on_curve(p: Point) -> bool:
    """True if C{p} is the point at infinity or satisfies y^2 + xy = x^3 + a x^2 + b."""
    if p.x is None:
        return True
    x, y = p.x, p.y
    if x >> M or y >> M or x < 0 or y < 0:
        return False
    x2 = field_square(x)
    return field_square(y) ^ field_mul(x, y) == field_mul(x2, x) ^ B  # a = 0


def point_neg(p: Point) -> Point:
    """-(x, y) = (x, x + y)."""
    if p.x is None:
        return p
    return Point(p.x, p.x ^ p.y)


def point_double(p: Point) -> Point:
    """2P in affine coordinates (a = 0)."""
    if p.x is None or p.x == 0:
        return INFINITY          # (0, 1) has order 2
    x1, y1 = p.x, p.y
    lam = x1 ^ field_mul(y1, field_inverse(x1))
    x3 = field_square(lam) ^ lam
    y3 = field_square(x1) ^ field_mul(lam ^ 1, x3)
    return Point(x3, y3)


def point_add(p: Point, q: Point) -> Point:
    """P + Q in affine coordinates (a = 0)."""
    if p.x is None:
        return q
    if q.x is None:
        return p
    if p.x == q.x:
        if p.y == q.y:
            return point_double(p)
        return INFINITY          # q = -p
    x1, y1, x2, y2 = p.x, p.y, q.x, q.y
    lam = field_mul(y1 ^ y2, field_inverse(x1 ^ x2))
    x3 = field_square(lam) ^ lam ^ x1 ^ x2
    y3 = field_mul(lam, x1 ^ x3) ^ x3 ^ y1
    return Point(x3, y3)


def scalar_mult_ladder(k: int, p: Point) -> Point:
    """Return kP with the Montgomery ladder (Lopez-Dahab x-only coordinates, y-recovery).

    The reference method: independent of L{scalar_mult}'s tau-adic arithmetic, the tests
    check one against the other.  C{k} may be any integer.
    """
    if k < 0:
        return scalar_mult_ladder(-k, point_neg(p))
    if k == 0 or p.x is None:
        return INFINITY
    x, y = p.x, p.y
    if x == 0:                   # the point of order 2
        return p if k & 1 else INFINITY
    if k == 1:
        return p
    mul, sq = field_mul, field_square
    # (X1, Z1) = P, (X2, Z2) = 2P; c = sqrt(b) = 1
    x1, z1 = x, 1
    z2 = sq(x)
    x2 = sq(z2) ^ B
    for i in range(k.bit_length() - 2, -1, -1):
        if (k >> i) & 1:
            # (X1, Z1) <- P1 + P2 ; (X2, Z2) <- 2 P2
            t1 = mul(x1, z2)
            t2 = mul(z1, x2)
            z1 = sq(t1 ^ t2)
            x1 = mul(x, z1) ^ mul(t1, t2)
            xx = sq(x2)
            zz = sq(z2)
            z2 = mul(xx, zz)
            x2 = sq(xx) ^ sq(zz)
        else:
            t1 = mul(x2, z1)
            t2 = mul(z2, x1)
            z2 = sq(t1 ^ t2)
            x2 = mul(x, z2) ^ mul(t1, t2)
            xx = sq(x1)
            zz = sq(z1)
            z1 = mul(xx, zz)
            x1 = sq(xx) ^ sq(zz)
    # Mxy: recover the affine kP from (X1, Z1) = kP and (X2, Z2) = (k + 1)P
    if z1 == 0:
        return INFINITY
    if z2 == 0:
        return point_neg(p)
    t3 = mul(z1, z2)
    inv = field_inverse(mul(t3, x))              # (x Z1 Z2)^-1
    x3 = mul(mul(x1, z2), mul(inv, x))           # X1 / Z1
    # y3 = (x + x3) [(X1 + x Z1)(X2 + x Z2) + (x^2 + y) Z1 Z2] (x Z1 Z2)^-1 + y
    s = mul(x1 ^ mul(x, z1), x2 ^ mul(x, z2)) ^ mul(sq(x) ^ y, t3)
    y3 = mul(mul(x ^ x3, s), inv) ^ y
    return Point(x3, y3)


# -- tau-adic scalar multiplication (Koblitz curves) -------------------------------------------
#
# On a Koblitz curve the Frobenius map tau(x, y) = (x^2, y^2) satisfies tau^2 - mu tau + 2 = 0
# with mu = (-1)^(1 - a) = -1 for a = 0 (Solinas 2000; Hankerson, Menezes, Vanstone 3.4).  A
# scalar is rewritten as an element of Z[tau], reduced modulo eta = tau^m - 1 (which kills
# every point of E(GF(2^m)), since x^(2^m) = x), and expanded in tau-adic NAF (digits 0, +-1,
# about m long, one third non-zero).  kP is then m Frobenius maps (three squarings each in
# Lopez-Dahab coordinates) and about m / 3 mixed additions, instead of m doublings.

_MU = -1


def _ztau_mul(a0: int, a1: int, b0: int, b1: int) -> tuple[int, int]:
    """(a0 + a1 tau)(b0 + b1 tau) in Z[tau], with tau^2 = mu tau - 2."""
    return a0 * b0 - 2 * a1 * b1, a0 * b1 + a1 * b0 + _MU * a1 * b1


def _tau_power(m: int) -> tuple[int, int]:
    r0, r1 = 1, 0
    for _ in range(m):
        r0, r1 = _ztau_mul(r0, r1, 0, 1)
    return r0, r1


_TAU_M = _tau_power(M)
#: eta = tau^m - 1; its norm r0^2 + mu r0 r1 + 2 r1^2 is #E(GF(2^283)) = h n.
_ETA = (_TAU_M[0] - 1, _TAU_M[1])
_ETA_NORM = H * N
#: the conjugate of eta (conj(tau) = mu - tau)
_ETA_CONJ = (_ETA[0] + _MU * _ETA[1], -_ETA[1])


def _round_div(num: int, den: int) -> int:
    """num / den rounded to the nearest integer (den > 0)."""
    return (2 * num + den) // (2 * den)


def _reduce_scalar(k: int) -> tuple[int, int]:
    """rho = k mod eta in Z[tau] (rounded division: k - round(k / eta) eta)."""
    q0 = _round_div(k * _ETA_CONJ[0], _ETA_NORM)
    q1 = _round_div(k * _ETA_CONJ[1], _ETA_NORM)
    p0, p1 = _ztau_mul(q0, q1, _ETA[0], _ETA[1])
    return k - p0, -p1


def tau_naf(r0: int, r1: int) -> list[int]:
    """tau-adic NAF of r0 + r1 tau, least significant digit first (HMV Algorithm 3.61)."""
    digits = []
    while r0 or r1:
        if r0 & 1:
            u = 2 - ((r0 - 2 * r1) & 3)
            r0 -= u
        else:
            u = 0
        digits.append(u)
        half = r0 >> 1
        r0, r1 = r1 + _MU * half, -half
    return digits


def _add_mixed(x1: int, y1: int, z1: int, x2: int, y2: int) -> tuple[int, int, int]:
    """Lopez-Dahab (X1 : Y1 : Z1) + affine (x2, y2), a = 0 (HMV Algorithm 3.25)."""
    if z1 == 0:
        return x2, y2, 1
    mul, sq = field_mul, field_square
    t1 = mul(z1, x2)
    t2 = sq(z1)
    x3 = x1 ^ t1
    t1 = mul(z1, x3)
    t3 = mul(t2, y2)
    y3 = y1 ^ t3
    if x3 == 0:
        if y3 == 0:                      # the same point: double it
            d = point_double(Point(x2, y2))
            return (0, 1, 0) if d.x is None else (d.x, d.y, 1)
        return 0, 1, 0                   # opposite points
    z3 = sq(t1)
    t3 = mul(t1, y3)
    x3 = mul(sq(x3), t1) ^ sq(y3) ^ t3
    t2 = mul(x2, z3) ^ x3
    y3 = mul(t3 ^ z3, t2) ^ mul(sq(z3), x2 ^ y2)
    return x3, y3, z3


def scalar_mult(k: int, p: Point) -> Point:
    """Return kP for any integer C{k} and any point C{p} on the curve (tau-adic NAF).

    C{k} is reduced modulo tau^m - 1, not modulo n, so cofactor multiplication works on
    points outside the prime-order subgroup too.
    """
    if k < 0:
        return scalar_mult(-k, point_neg(p))
    if k == 0 or p.x is None:
        return INFINITY
    x, y = p.x, p.y
    neg_y = x ^ y
    sq = field_square
    X, Y, Z = 0, 1, 0                    # the point at infinity (Z = 0)
    for u in reversed(tau_naf(*_reduce_scalar(k))):
        if Z:
            X, Y, Z = sq(X), sq(Y), sq(Z)
        if u == 1:
            X, Y, Z = _add_mixed(X, Y, Z, x, y)
        elif u == -1:
            X, Y, Z = _add_mixed(X, Y, Z, x, neg_y)
    if Z == 0:
        return INFINITY
    zi = field_inverse(Z)
    return Point(field_mul(X, zi), field_mul(Y, sq(zi)))


def multiply_base(k: int) -> Point:
    """Return kG."""
    return scalar_mult(k, G)


# -- encoding (SEC 1 2.3.3 / 2.3.4) -----------------------------------------------------------

def encode_point(p: Point, compressed: bool = True) -> bytes:
    """Point-to-octet-string conversion; ZigBee public keys are the 37-octet compressed form."""
    if p.x is None:
        return b"\x00"
    xo = field_to_octets(p.x)
    if not compressed:
        return b"\x04" + xo + field_to_octets(p.y)
    ybit = 0 if p.x == 0 else field_mul(p.y, field_inverse(p.x)) & 1
    return bytes((0x02 | ybit,)) + xo


def decode_point(data: bytes, field: str = "point", offset: int = 0) -> Point:
    """Octet-string-to-point conversion with the curve-membership check.

    Accepts the compressed (37 octets) and uncompressed (73 octets) forms; the point at
    infinity (a single zero octet) is rejected because no key may be the identity.
    """
    data = bytes(data)
    if not data:
        raise CodecError(field, offset, "empty point encoding")
    pc = data[0]
    if pc in (0x02, 0x03):
        if len(data) != COMPRESSED_POINT_OCTETS:
            raise CodecError(field, offset, f"compressed point must be "
                                            f"{COMPRESSED_POINT_OCTETS} octets, got {len(data)}")
        x = field_from_octets(data[1:], field + ".x", offset + 1)
        if x == 0:
            y = 1                # sqrt(b), b = 1
        else:
            beta = x ^ field_inverse(field_square(x))     # x + a + b / x^2
            z = _half_trace(beta)
            if field_square(z) ^ z != beta:
                raise CodecError(field, offset, "x is not the x-coordinate of a curve point")
            if (z & 1) != (pc & 1):
                z ^= 1
            y = field_mul(x, z)
        return Point(x, y)
    if pc == 0x04:
        if len(data) != UNCOMPRESSED_POINT_OCTETS:
            raise CodecError(field, offset, f"uncompressed point must be "
                                            f"{UNCOMPRESSED_POINT_OCTETS} octets, got {len(data)}")
        p = Point(field_from_octets(data[1:1 + FIELD_OCTETS], field + ".x", offset + 1),
                  field_from_octets(data[1 + FIELD_OCTETS:], field + ".y",
                                    offset + 1 + FIELD_OCTETS))
        if not is_on_curve(p):
            raise CodecError(field, offset, "point is not on sect283k1")
        return p
    if pc == 0x00:
        raise CodecError(field, offset, "point at infinity is not a valid key")
    raise CodecError(field, offset, f"unknown point encoding prefix 0x{pc:02x}")


# -- keys and Diffie-Hellman ------------------------------------------------------------------

def private_key_from_rng(rng) -> int:
    """Draw a private key d in [1, n - 1] from C{rng} (a C{random.Random}) by rejection."""
    while True:
        d = rng.getrandbits(N.bit_length())
        if 1 <= d < N:
            return d


def public_key(d: int) -> Point:
    """Return Q = dG."""
    return multiply_base(d)


def ecdh(d: int, peer: Point) -> bytes:
    """SEC 1 3.3.1 Elliptic Curve Diffie-Hellman primitive: x(d Q) as 36 octets.

    This is what OpenSSL's C{pkeyutl -derive} computes for binary curves (cofactor mode off).
    Raises C{ValueError} if the product is the point at infinity.
    """
    p = scalar_mult(d, peer)
    if p.x is None:
        raise ValueError("ECDH produced the point at infinity")
    return field_to_octets(p.x)


def ecdh_cofactor(d: int, peer: Point) -> bytes:
    """SEC 1 3.3.2 cofactor Diffie-Hellman: x(h d Q) as 36 octets."""
    return ecdh(H * d, peer)
