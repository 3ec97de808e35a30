"""Derived seeds: stable, in range, one per base seed and index."""

from __future__ import annotations

import hashlib

import pytest

from sagasim.sweeps import derive_seed


def test_derived_seeds_are_fixed_values():
    """The first seeds of base seed 0 and 7 are these numbers, forever."""
    assert [6213027144842677344, 8613600020916457518, 5301956043363155061] == [
        derive_seed(0, index) for index in range(3)
    ]
    assert 8862997118719747769 == derive_seed(7, 0)


def test_derived_seed_is_the_documented_formula():
    """The seed is the digest's first 8 bytes, big-endian, shifted by one."""
    digest = hashlib.sha256(b"123:45").digest()
    assert int.from_bytes(digest[:8], "big") >> 1 == derive_seed(123, 45)


def test_derived_seeds_fit_a_signed_64_bit_column_and_differ():
    """A thousand seeds are distinct, each in [0, 2**63)."""
    seeds = [derive_seed(base, index) for base in (0, 1) for index in range(500)]
    assert 1000 == len(set(seeds))
    assert all(0 <= seed < 2**63 for seed in seeds)


@pytest.mark.parametrize("args", [(-1, 0), (0, -1), (0.5, 0), (True, 0)])
def test_derived_seed_rejects_bad_arguments(args):
    """A negative or non-integer base seed or index is a ValueError."""
    with pytest.raises(ValueError, match="non-negative integer"):
        derive_seed(*args)
