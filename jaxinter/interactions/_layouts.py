"""Where the subset axis lives: whole on one device, or split in blocks over a mesh axis.

Every exact transform is written once against a layout, which provides the butterfly along
every bit, the orders and masks of the subsets it holds, the complement T -> N \\ T and the sum
over all subsets:

- ``WholeAxis(n)``: the subset axis ``2**n`` in one array (one device, or a batch split);
- ``SplitAxis(n, axis, devices)``: under ``shard_map``, each of the ``D = 2**d`` devices of
  ``axis`` holds the contiguous block of ``2**(n - d)`` subsets whose high d bits are its
  index. The butterfly updates the block in place, one piece of at most ``PIECE_VALUES``
  values per batch row at a time (a loop): the low n - d bits locally; for the high d bits a
  distributed transpose (``all_to_all``) of a piece gives each device full high-bit fibres of
  a slice of the low bits, the d bits run locally, and the transpose is undone. Besides its
  block (and the argument, unless donated) a device holds a few pieces: a constant.

Both apply the bits in the same order with the same arithmetic, so results are bitwise equal.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ._subsets import complement_values, masks_of, orders_np, subset_indices

BITS_PER_PASS = 3  # XLA:CPU fuses a concatenate of at most 8 operands, i.e. 3 bits
PIECE_VALUES = 2**18  # values a device updates at once in a split butterfly (1 MiB float32)


def butterfly(f: jax.Array, n: int, update) -> jax.Array:
    """Apply ``(lo, hi) -> update(lo, hi)`` along each bit; lo = S without i, hi = S with i.

    Bits are handled ``BITS_PER_PASS`` at a time: the 2**k slices of a group of k bits are
    updated as values and written back by one ``stack``, which XLA fuses into a single loop, so
    the array crosses memory ceil(n / 3) times instead of n times. The arithmetic (and thus the
    rounding) is exactly that of the one-bit-at-a-time butterfly.
    """
    shape = f.shape
    for i in range(0, n, BITS_PER_PASS):
        k = min(BITS_PER_PASS, n - i)
        g = f.reshape(shape[:-1] + (2 ** (n - i - k), 2**k, 2**i))
        pieces = [g[..., j, :] for j in range(2**k)]
        for b in range(k):
            for hi in range(2**k):
                if hi >> b & 1:
                    lo = hi ^ (1 << b)
                    pieces[lo], pieces[hi] = update(pieces[lo], pieces[hi])
        f = jnp.stack(pieces, axis=-2).reshape(shape)
    return f


def along_rows(g, bits, update):
    """``butterfly`` along the second-to-last axis (``2**bits`` rows) of ``g``."""
    return jnp.moveaxis(butterfly(jnp.moveaxis(g, -2, -1), bits, update), -1, -2)


def in_pieces(g, axis, size, fn):
    """``g`` with ``fn`` applied to its consecutive pieces of ``size`` (a power of two, capped
    to the axis) along ``axis``, updated in place by a loop; ``fn`` keeps a piece's shape."""
    length = g.shape[axis]
    size = max(1, min(size, length))
    if size == length:
        return fn(g)

    def step(i, g):
        piece = jax.lax.dynamic_slice_in_dim(g, i * size, size, axis=axis)
        return jax.lax.dynamic_update_slice_in_dim(g, fn(piece), i * size, axis=axis)

    return jax.lax.fori_loop(0, length // size, step, g)


class WholeAxis:
    """The subset axis ``2**n`` held whole."""

    def __init__(self, n: int):
        self.n = n

    def butterfly(self, f, update):
        return butterfly(f, self.n, update)

    def orders(self):
        """Orders |S| of the subsets held, as a host array (a constant)."""
        return orders_np(self.n)

    def per_subset(self, table, dtype):
        """``table[|S|]`` for every subset S held: a (n + 1,) table spread over the axis."""
        return jnp.asarray(np.asarray(table)[self.orders()], dtype)

    def masks(self, dtype):
        """(2**n, n) membership of every player in the subsets held."""
        return masks_of(subset_indices(self.n), self.n, dtype)

    def is_empty_set(self):
        return jnp.arange(2**self.n) == 0

    def complement(self, f):
        return complement_values(f)

    def total(self, x):
        """Sum of per-block partial sums over the blocks (one block here)."""
        return x


class SplitAxis(WholeAxis):
    """The subset axis split in ``devices`` blocks over mesh ``axis`` (inside ``shard_map``)."""

    def __init__(self, n: int, axis: str, devices: int):
        super().__init__(n)
        self.axis, self.devices = axis, devices
        self.d = devices.bit_length() - 1
        self.block = 2 ** (n - self.d)

    def butterfly(self, f, update):
        """The butterfly on this device's block, updated in place piece by piece.

        Bits 0..m-1 run on contiguous pieces of the block, bits m..n-d-1 on pieces of
        columns of its (2**(n-d-m), 2**m) view, the high d bits on pieces of columns of its
        (D, 2**(n-d) / D) view, moved through an all_to_all there and back: besides the block
        a device holds a few pieces of about ``PIECE_VALUES`` values (all batch rows).
        """
        low = self.n - self.d
        batch = f.shape[:-1]
        per_row = max(1, PIECE_VALUES // math.prod(batch))
        m = min(low, per_row.bit_length() - 1)
        g = f.reshape(batch + (2 ** (low - m), 2**m))
        if m:
            g = in_pieces(g, -2, per_row >> m, lambda p: butterfly(p, m, update))
        if low > m:
            g = in_pieces(g, -1, per_row >> (low - m), lambda p: along_rows(p, low - m, update))
        rows = len(batch)  # the axis of the D rows

        def high_bits(piece):  # row k of the transposed piece: block k's columns
            piece = jax.lax.all_to_all(piece, self.axis, rows, rows)
            return jax.lax.all_to_all(along_rows(piece, self.d, update), self.axis, rows, rows)

        g = g.reshape(batch + (self.devices, self.block // self.devices))
        return in_pieces(g, -1, per_row // self.devices, high_bits).reshape(f.shape)

    def _indices(self):
        start = jax.lax.axis_index(self.axis) * self.block
        return subset_indices(self.n, 0, self.block) + start

    def orders(self):
        return jax.lax.population_count(self._indices())

    def per_subset(self, table, dtype):
        return jnp.asarray(table, dtype)[self.orders()]

    def masks(self, dtype):
        return masks_of(self._indices(), self.n, dtype)

    def is_empty_set(self):
        return self._indices() == 0

    def complement(self, f):
        # block j holds the reversed block D - 1 - j
        perm = [(j, self.devices - 1 - j) for j in range(self.devices)]
        return jax.lax.ppermute(f[..., ::-1], self.axis, perm)

    def total(self, x):
        return jax.lax.psum(x, self.axis)
