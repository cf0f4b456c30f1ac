"""Seeded randomness: one run seed, one independent stream per node, link or purpose.

Implements STYLE.md 4 ("Randomness is injected") and the determinism rule of DESIGN.md
("same seed, same topology, same workload: byte-identical capture").

Each consumer derives its own C{random.Random} from the run seed and a path of names, e.g.
C{derive_rng(seed, "han", "home-1", "ESME", "IHD")}.  The derived seed is a SHA-256 of a
canonical, unambiguous encoding of the seed and the names, so:

 - a stream depends only on the seed and its own names, never on the order in which streams
   are created (adding a node never changes another node's stream);
 - different name paths give unrelated streams (C{("a", "bc")} and C{("ab", "c")} differ:
   every name is length-prefixed).

L{derive_bytes} gives key material made for a topology (network keys, install codes) from the
same scheme under a different domain label, so it never equals a derived RNG seed.
"""

from __future__ import annotations

import hashlib
import random

__all__ = ["derive_seed", "derive_rng", "derive_bytes", "LazyRandom"]

_SEED_DOMAIN = b"smets-emulator/rng/seed\x00"
_BYTES_DOMAIN = b"smets-emulator/rng/bytes\x00"


def _encode(seed: int, names: tuple[str, ...]) -> bytes:
    """Canonical encoding: signed decimal seed, then each UTF-8 name length-prefixed (u32 BE)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    parts = [str(seed).encode("ascii"), b"\x00", len(names).to_bytes(4, "big")]
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"names must be str, got {type(name).__name__}: {name!r}")
        raw = name.encode("utf-8")
        parts.append(len(raw).to_bytes(4, "big"))
        parts.append(raw)
    return b"".join(parts)


def derive_seed(seed: int, *names: str) -> int:
    """Return a 64-bit seed derived from the run C{seed} and a path of C{names}.

    @param seed: the run seed (any int, negative allowed).
    @param names: the path naming the consumer (medium, node, link, purpose...).
    """
    digest = hashlib.sha256(_SEED_DOMAIN + _encode(seed, names)).digest()
    return int.from_bytes(digest[:8], "big")


def derive_rng(seed: int, *names: str) -> random.Random:
    """Return a fresh C{random.Random} seeded with L{derive_seed}C{(seed, *names)}.

    The generator is made when it is first used (L{LazyRandom}): its stream is the same,
    and a stream nobody draws from (a link without impairments, a Key Establishment that
    never runs) costs no Mersenne Twister state (2.5 KB each).
    """
    return LazyRandom(derive_seed(seed, *names))  # type: ignore[return-value]


class LazyRandom:
    """A C{random.Random(seed)} built on first use; then its bound methods are kept on the
    proxy, so later calls cost what calls on the generator itself cost."""

    __slots__ = ("_seed", "_rng", "__dict__")

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rng: random.Random | None = None

    def __getattr__(self, name: str):
        rng = self._rng
        if rng is None:
            rng = self._rng = random.Random(self._seed)
        value = getattr(rng, name)
        if callable(value):
            self.__dict__[name] = value
        return value


def derive_bytes(seed: int, *names: str, n: int) -> bytes:
    """Return C{n} bytes of key material derived from the run C{seed} and C{names}.

    Uses SHAKE-256 over the canonical encoding (domain-separated from L{derive_seed}); the
    first C{k} bytes for C{n > k} equal the result for C{n = k}.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    return hashlib.shake_256(_BYTES_DOMAIN + _encode(seed, names)).digest(n)
