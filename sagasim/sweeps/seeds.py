"""The seed of each run of a sweep, derived from the base seed and an index.

A run's seed depends on nothing but the sweep's base seed and the run's seed
index, so any row of a sweep can be re-run alone, in another process or on
another machine, and gets the same seed::

    seed = int.from_bytes(sha256(f"{base_seed}:{index}".encode()).digest()[:8],
                          "big") >> 1

that is, the first 8 bytes of the SHA-256 digest of the text
``"<base_seed>:<index>"``, read as a big-endian integer and shifted right by
one bit, so that every seed is in ``[0, 2**63)`` and fits a signed 64-bit
column (CSV, Parquet, pandas ``int64``). Python's ``hash()`` is not used: it
changes from one process to the next.

Every grid point uses the same seeds (seed index ``i`` gets the same seed at
every point), so that two points are compared on the same random draws.
"""

from __future__ import annotations

import hashlib

__all__ = ["derive_seed"]


def derive_seed(base_seed: int, index: int) -> int:
    """The seed of seed index ``index`` in a sweep with ``base_seed``.

    Stable across processes, machines and Python versions; see the module
    docstring for the formula.

    Raises:
        ValueError: ``base_seed`` or ``index`` is not a non-negative integer.
    """
    for name, value in (("base_seed", base_seed), ("index", index)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    digest = hashlib.sha256(f"{base_seed}:{index}".encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") >> 1
