"""Counter-based random streams: every random number is a pure function of its key.

A draw is a keyed 64-bit hash (SplitMix64's finaliser) of ``(seed, product_id, hour, stream)``,
never a position in a stream. Per (product, hour): the ``demand`` draw gives three 21-bit uniforms
(popularity noise, cart rate, purchase rate), the ``price`` draw two 32-bit uniforms, and the
``rating`` draw one 32-bit uniform per hour (one draw covers two hours); ``base_views`` is one
draw per (seed, product). So the rows of an hour are the same whether it is generated alone,
inside a longer request, in any order, or beside other products, and nothing is read from
earlier partitions.

Uniform draws are scaled with the 2**-k factor folded into one multiply, which is exact (a power
of two), so the vectorized rows equal a per-row evaluation of the formulas.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = (np.uint64(n) for n in (30, 27, 31))
_LOW21 = np.uint64(0x1FFFFF)
#: The three 21-bit fields of a 64-bit draw, as right shifts (the lowest bit is unused).
_FIELD21 = (np.uint64(43), np.uint64(22), np.uint64(1))

#: ``bits >> SHIFT32`` is a draw's high 32 bits, ``bits & LOW32`` its low 32 bits; either times
#: ``TO_UNIT`` is a U[0, 1) (an exact multiple of 2**-32).
SHIFT32 = np.uint64(32)
LOW32 = np.uint64(0xFFFFFFFF)
TO_UNIT = 2.0**-32

#: Stream ids: one 64-bit draw per stream and (product, hour).
#: rating: one 32-bit draw per hour (two hours per draw); demand: three 21-bit uniforms
#: (popularity noise, cart rate, purchase rate); price: two 32-bit uniforms; base_views: one per
#: product.
STREAMS = {"rating": 1, "demand": 2, "price": 3, "base_views": 5}


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place on a uint64 array: a bijection with full avalanche."""
    tmp = np.empty_like(x)
    for shift, mult in ((_S30, _M1), (_S27, _M2)):
        np.right_shift(x, shift, out=tmp)
        x ^= tmp
        x *= mult
    np.right_shift(x, _S31, out=tmp)
    x ^= tmp
    return x


def product_key(product_id: str) -> int:
    """A stable 64-bit key of a product id (independent of Python's hash seed)."""
    return int.from_bytes(hashlib.blake2b(product_id.encode(), digest_size=8).digest(), "little")


def product_keys(seed: int, product_ids: Sequence[str]) -> np.ndarray:
    """Per-product keys for ``seed``: a product's draws depend on nothing else in the catalog."""
    seed_key = mix64(np.array([seed % 2**64], dtype=np.uint64) ^ _GOLDEN)
    keys = np.array([product_key(pid) for pid in product_ids], dtype=np.uint64)
    return mix64(keys ^ seed_key)


def _hour_keys(hours: np.ndarray, stream: int) -> np.ndarray:
    x = hours.astype(np.int64).view(np.uint64) * _GOLDEN
    return mix64(x ^ mix64(np.array([stream], dtype=np.uint64)))


def keyed_bits(
    pkeys: np.ndarray, hours: np.ndarray, stream: int, by_product: bool = False
) -> np.ndarray:
    """64 random bits per (hour, product): ``mix64(hour_key(hour, stream) ^ product_key)``.

    A pure function of its key, never of a position in a stream. Shape (hours, products), or
    (products, hours) with ``by_product``.
    """
    hkeys = _hour_keys(hours, stream)
    if by_product:
        return mix64(np.bitwise_xor(pkeys[:, None], hkeys[None, :]))
    return mix64(np.bitwise_xor(hkeys[:, None], pkeys[None, :]))


def draws(
    pkeys: np.ndarray, hours: np.ndarray, stream: int, by_product: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Two U[0, 1) arrays from one stream: the high and low 32 bits (exact multiples of 2**-32)."""
    bits = keyed_bits(pkeys, hours, stream, by_product)
    high = (bits >> SHIFT32).astype(np.float64)
    high *= TO_UNIT
    bits &= LOW32
    low = bits.astype(np.float64)
    low *= TO_UNIT
    return high, low


def uniform21(bits: np.ndarray, field: int, low: float, high: float) -> np.ndarray:
    """``low + (high - low) * u`` with u the ``field``-th 21-bit fraction of ``bits``.

    Scaling by ``(high - low) * 2**-21`` in one multiply is exact: 2**-21 is a power of two.
    """
    raw = bits >> _FIELD21[field]
    if field:
        raw &= _LOW21
    u = raw.astype(np.float64)
    u *= (high - low) * 2.0**-21
    u += low
    return u


def uniform(low: float | np.ndarray, high: float | np.ndarray, u: np.ndarray) -> np.ndarray:
    """``random.uniform(low, high)`` for a given U[0, 1) draw: ``low + (high - low) * u``."""
    return low + (high - low) * u
