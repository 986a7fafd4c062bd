"""Brute-force O(3**n) definitions in numpy (tests only).

Written directly from the formulas of docs/math/interactions.md. Every function takes a game
``u`` of shape (..., 2**n) (bit i of an index = player i) and sums over subsets explicitly, so it
shares no code with the fast butterflies it checks.
"""

from __future__ import annotations

from math import comb, factorial

import numpy as np
import scipy.special


def popcount(s: int) -> int:
    return bin(s).count("1")


def subsets_of(s: int):
    """Every subset of the bitmask s (s itself and 0 included)."""
    t = s
    while True:
        yield t
        if t == 0:
            return
        t = (t - 1) & s


def moebius(u: np.ndarray) -> np.ndarray:
    """I(S) = sum_{T subset S} (-1)^{|S|-|T|} u(T)."""
    n = u.shape[-1].bit_length() - 1
    out = np.zeros_like(u)
    for s in range(2**n):
        for t in subsets_of(s):
            out[..., s] += (-1) ** (popcount(s) - popcount(t)) * u[..., t]
    return out


def zeta(m: np.ndarray) -> np.ndarray:
    """u(T) = sum_{S subset T} m(S)."""
    n = m.shape[-1].bit_length() - 1
    out = np.zeros_like(m)
    for t in range(2**n):
        for s in subsets_of(t):
            out[..., t] += m[..., s]
    return out


def or_interactions(w: np.ndarray) -> np.ndarray:
    """I_or(S) = -sum_{T subset S} (-1)^{|S|-|T|} w(N \\ T) (S nonempty), I_or(empty) = w(empty)."""
    n = w.shape[-1].bit_length() - 1
    full = 2**n - 1
    out = np.zeros_like(w)
    out[..., 0] = w[..., 0]
    for s in range(1, 2**n):
        for t in subsets_of(s):
            out[..., s] -= (-1) ** (popcount(s) - popcount(t)) * w[..., full ^ t]
    return out


def or_game(i_or: np.ndarray) -> np.ndarray:
    """w(T) = I_or(empty) + sum over nonempty S meeting T of I_or(S)."""
    n = i_or.shape[-1].bit_length() - 1
    out = np.repeat(i_or[..., :1], 2**n, axis=-1).copy()
    for t in range(2**n):
        for s in range(1, 2**n):
            if s & t:
                out[..., t] += i_or[..., s]
    return out


def _derivative(u: np.ndarray, t: int, s: int) -> np.ndarray:
    """Discrete derivative Delta_T u(S) = sum_{L subset T} (-1)^{|T|-|L|} u(S + L), S disjoint T."""
    return sum((-1) ** (popcount(t) - popcount(l)) * u[..., s | l] for l in subsets_of(t))


def _disjoint(n: int, t: int):
    return [s for s in range(2**n) if not s & t]


def shapley_values(u: np.ndarray) -> np.ndarray:
    """phi_i = sum_{S subset N-i} |S|! (n-|S|-1)! / n! (u(S+i) - u(S))."""
    n = u.shape[-1].bit_length() - 1
    out = np.zeros(u.shape[:-1] + (n,))
    for i in range(n):
        for s in _disjoint(n, 1 << i):
            k = popcount(s)
            weight = factorial(k) * factorial(n - k - 1) / factorial(n)
            out[..., i] += weight * (u[..., s | 1 << i] - u[..., s])
    return out


def banzhaf_values(u: np.ndarray) -> np.ndarray:
    """phi_i = 2^{-(n-1)} sum_{S subset N-i} (u(S+i) - u(S))."""
    n = u.shape[-1].bit_length() - 1
    out = np.zeros(u.shape[:-1] + (n,))
    for i in range(n):
        for s in _disjoint(n, 1 << i):
            out[..., i] += (u[..., s | 1 << i] - u[..., s]) / 2 ** (n - 1)
    return out


def sii(u: np.ndarray, order: int) -> np.ndarray:
    """SII(T) = sum_{S subset N-T} (n-s-t)! s! / (n-t+1)! Delta_T u(S), for |T| <= order."""
    n = u.shape[-1].bit_length() - 1
    out = np.zeros_like(u)
    for t in range(2**n):
        k = popcount(t)
        if k > order:
            continue
        for s in _disjoint(n, t):
            j = popcount(s)
            weight = factorial(n - j - k) * factorial(j) / factorial(n - k + 1)
            out[..., t] += weight * _derivative(u, t, s)
    return out


def bii(u: np.ndarray, order: int) -> np.ndarray:
    """BII(T) = 2^{-(n-t)} sum_{S subset N-T} Delta_T u(S), for |T| <= order."""
    n = u.shape[-1].bit_length() - 1
    out = np.zeros_like(u)
    for t in range(2**n):
        k = popcount(t)
        if k <= order:
            out[..., t] = sum(_derivative(u, t, s) for s in _disjoint(n, t)) / 2 ** (n - k)
    return out


def stii(u: np.ndarray, order: int) -> np.ndarray:
    """Shapley-Taylor: Delta_T u(empty) below ``order``; at |T| = order
    (order / n) sum_{S subset N-T} Delta_T u(S) / C(n-1, |S|)."""
    n = u.shape[-1].bit_length() - 1
    out = np.zeros_like(u)
    for t in range(2**n):
        k = popcount(t)
        if k < order:
            out[..., t] = _derivative(u, t, 0)
        elif k == order:
            out[..., t] = order / n * sum(
                _derivative(u, t, s) / comb(n - 1, popcount(s)) for s in _disjoint(n, t)
            )
    return out


def k_sii(u: np.ndarray, order: int) -> np.ndarray:
    """k-SII from brute-force SII by Bernoulli aggregation (Bord et al.):
    k-SII(T) = sum_{S superset T, |S| <= order} B_{|S|-|T|} SII(S) for T nonempty, and
    k-SII(empty) = u(empty)."""
    n = u.shape[-1].bit_length() - 1
    bern = scipy.special.bernoulli(order)
    base = sii(u, order)
    out = np.zeros_like(u)
    out[..., 0] = u[..., 0]
    for t in range(1, 2**n):
        if popcount(t) > order:
            continue
        for s in range(2**n):
            if s & t == t and popcount(s) <= order:
                out[..., t] += bern[popcount(s) - popcount(t)] * base[..., s]
    return out


def msb_masks(n: int) -> np.ndarray:
    """(2**n, n) bool masks in the published code's order: row r = binary_repr(r, n), so player
    0 is the most significant bit (as its ``generate_all_masks``)."""
    return np.array([[c == "1" for c in np.binary_repr(r, width=n)] for r in range(2**n)])


def harsanyi_matrix(masks: np.ndarray) -> np.ndarray:
    """Dense (2**n, 2**n) map v -> I_and over the rows of ``masks``:
    A[S, L] = (-1)^{|S| - |L|} for L subset S, else 0."""
    inside = (masks[None, :, :] <= masks[:, None, :]).all(-1)  # [S, L]: L subset S
    parity = masks.sum(1)[:, None] - masks.sum(1)[None, :]
    return np.where(inside, (-1.0) ** parity, 0.0)


def or_matrix(masks: np.ndarray) -> np.ndarray:
    """Dense (2**n, 2**n) map w -> I_or over the rows of ``masks``: I_or(empty) = w(empty),
    I_or(S) = -sum_{L subset S} (-1)^{|S| - |L|} w(N minus L) for S nonempty."""
    rows = {tuple(m): r for r, m in enumerate(masks)}
    out = np.zeros((len(masks), len(masks)))
    for s, mask_s in enumerate(masks):
        if not mask_s.any():
            out[s, s] = 1.0
            continue
        for mask_l in masks[(masks <= mask_s).all(1)]:
            out[s, rows[tuple(~mask_l)]] -= (-1.0) ** (mask_s.sum() - mask_l.sum())
    return out


def popcount_array(n: int) -> np.ndarray:
    """(2**n,) |S| of every subset index S."""
    return np.array([popcount(s) for s in range(2**n)])
