"""Tests for L{emulator.rng}: derived streams are stable, independent of creation order, and
differ between names; the derivation is the documented SHA-256 construction."""

from __future__ import annotations

import hashlib
import random

import pytest

from emulator.rng import derive_bytes, derive_rng, derive_seed


def _reference_seed(seed: int, *names: str) -> int:
    """The construction as documented, written out independently of the module."""
    enc = b"smets-emulator/rng/seed\x00" + str(seed).encode() + b"\x00" + len(names).to_bytes(4, "big")
    for n in names:
        raw = n.encode("utf-8")
        enc += len(raw).to_bytes(4, "big") + raw
    return int.from_bytes(hashlib.sha256(enc).digest()[:8], "big")


def test_matches_documented_construction():
    for seed, names in [(0, ()), (1, ("home-1",)), (-7, ("han", "home-1", "ESME", "IHD")),
                        (2**70, ("ünïcode", ""))]:
        assert derive_seed(seed, *names) == _reference_seed(seed, *names)
        assert derive_rng(seed, *names).random() == random.Random(_reference_seed(seed, *names)).random()


def test_stable_across_calls_and_independent_of_creation_order():
    names = [("han", "home-1", a, b) for a in ("CH", "ESME", "GSME", "IHD") for b in ("CH", "IHD")]
    first = {}
    for n in names:
        r = derive_rng(42, *n)
        first[n] = [r.random() for _ in range(3)]
    # create in the reverse order, with extra streams interleaved (a node added)
    second = {}
    for n in reversed(names):
        derive_rng(42, "han", "home-1", "PPMID", "CH").random()
        r = derive_rng(42, *n)
        second[n] = [r.random() for _ in range(3)]
    assert first == second


def test_names_and_seeds_separate_streams():
    seeds = {derive_seed(1, "a", "bc"), derive_seed(1, "ab", "c"), derive_seed(1, "abc"),
             derive_seed(1, "a", "b", "c"), derive_seed(2, "a", "bc"), derive_seed(1, "a", "bc", "")}
    assert len(seeds) == 6
    a = [derive_rng(1, "link", "x").random() for _ in range(5)]
    b = [derive_rng(1, "link", "y").random() for _ in range(5)]
    assert a != b


def test_derive_bytes():
    k16 = derive_bytes(7, "home-1", "network-key", n=16)
    assert len(k16) == 16
    assert derive_bytes(7, "home-1", "network-key", n=32)[:16] == k16
    assert derive_bytes(7, "home-2", "network-key", n=16) != k16
    assert derive_bytes(8, "home-1", "network-key", n=16) != k16
    expected = hashlib.shake_256(b"smets-emulator/rng/bytes\x00" + b"7\x00" + (2).to_bytes(4, "big")
                                 + b"\x00\x00\x00\x06home-1" + b"\x00\x00\x00\x0bnetwork-key").digest(16)
    assert k16 == expected
    # domain separation from derive_seed
    assert int.from_bytes(derive_bytes(7, "x", n=8), "big") != derive_seed(7, "x")


def test_type_errors():
    with pytest.raises(TypeError):
        derive_seed(1.5, "x")
    with pytest.raises(TypeError):
        derive_seed(True, "x")
    with pytest.raises(TypeError):
        derive_seed(1, 5)
    with pytest.raises(ValueError):
        derive_bytes(1, "x", n=-1)
