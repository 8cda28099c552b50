"""Hypothesis strategies for matmul operands, shared by every kernel test.

Everything is drawn through hypothesis (shapes, dtypes, layouts, each element),
never from a random seed, so a failure shrinks to a small readable pair: 0 or 1
sized dimensions, contiguous layout, zeros and small integers.

Sizes come from the registry's cost model: each product a property makes
(a @ b, bᵀ @ aᵀ, a @ I, I @ b) stays within STEP_BUDGET interpreter steps of
`kernel.python_steps`, so the three-loop kernel stays about 6 x 6 x 6 while
loop-free kernels reach MAX_DIM; ELEMENT_BUDGET caps the drawn elements, which
are what hypothesis spends its time on. A kernel registered later is sized by
its own declaration, with no code here.
"""
from __future__ import annotations

import functools

import torch
from hypothesis import note
from hypothesis import strategies as st

from matmul.accuracy import unit_roundoff

STEP_BUDGET = 256      # interpreter steps per product (three_loops: one per multiply-add)
MAX_DIM = 64           # largest m, k or n; tall (64 x 1) and wide (1 x 64) fit
ELEMENT_BUDGET = 64    # elements of a and b together


def _cpu_matmul_supports(dtype: torch.dtype) -> bool:
    try:
        torch.ones(2, 2, dtype=dtype) @ torch.ones(2, 2, dtype=dtype)
    except RuntimeError:
        return False
    return True


# int64 first: hypothesis shrinks towards the first choice, and exact integer
# examples are the easiest to read.
DTYPES = [torch.int64, torch.float32, torch.float64] + [
    d for d in (torch.float16, torch.bfloat16) if _cpu_matmul_supports(d)
]

INT_BOUND = 50        # sums of K * 50 * 50: exact in the float64 reference, far from overflow
FLOAT_BOUND = 100.0
HALF_BOUND = 8.0      # float16: MAX_DIM * 8 * (8 + 8) < 65504, so A @ (B + C) stays finite
# No value in (0, 2^-6): every nonzero product is >= 2^-12, a normal number even
# in float16, and the γ_K bound assumes no underflow.
TINY = 2.0 ** -6
# Gaps of strided slices hold this: a kernel that reads them (ignoring strides)
# turns NaN (or a huge integer) into an error no bound forgives.
GAP = {True: float("nan"), False: 1_000_003}


def max_inner(dtype: torch.dtype) -> int:
    """Largest K with K u <= 1/4, where γ_K <= 1/3 still bounds something."""
    u = unit_roundoff(dtype)
    return MAX_DIM if u == 0 else min(MAX_DIM, int(0.25 / u))


def _cost(kernel, m: int, k: int, n: int) -> int:
    # The products the properties make: a @ b, b.T @ a.T, a @ I_k and I_k @ b.
    steps = kernel.python_steps
    return max(steps(m, k, n), steps(n, k, m), steps(m, k, k), steps(k, k, n))


def _largest(limit: int, fits) -> int:
    """Largest d in [0, limit] with fits(d), for fits monotone decreasing in d."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


# About one dimension in ten is 0 (hypothesis's integers are far from uniform:
# drawing sizes from 0 up makes most examples empty); it shrinks to "not empty".
EMPTY = st.integers(0, 9).map(lambda x: x == 9)


@st.composite
def shapes(draw, kernel, dtype: torch.dtype = torch.float64) -> tuple[int, int, int]:
    """(m, k, n) within the kernel's step budget, the element budget and the
    dtype's K limit. The dimensions are drawn in a drawn order, each 0 or from 1
    up to what the earlier ones leave, so empty, 1 x 1, tall and skinny shapes
    all occur."""

    def fits(dims, axis, d):  # with dims[axis] set to d
        m, k, n = dims[:axis] + [d] + dims[axis + 1:]
        return _cost(kernel, m, k, n) <= STEP_BUDGET and m * k + k * n <= ELEMENT_BUDGET

    dims = [1, 1, 1]
    limits = [MAX_DIM, max_inner(dtype), MAX_DIM]
    for axis in draw(st.permutations([0, 1, 2])):
        cap = _largest(limits[axis], functools.partial(fits, dims, axis))
        size = draw(st.integers(1, cap))
        dims[axis] = 0 if draw(EMPTY) else size
    return tuple(dims)


@functools.cache  # one strategy object per pair: building them is not free
def elements(dtype: torch.dtype, result: torch.dtype) -> st.SearchStrategy:
    """Python numbers for a `dtype` operand of a product computed in `result`."""
    bound = HALF_BOUND if result == torch.float16 else FLOAT_BOUND
    if not dtype.is_floating_point:
        return st.integers(-min(INT_BOUND, int(bound)), min(INT_BOUND, int(bound)))
    return st.floats(-bound, bound).map(lambda x: x if abs(x) >= TINY else 0.0)


LAYOUTS = ["contiguous", "transposed", "row_slice", "column_slice"]


@st.composite
def matrices(draw, rows: int, cols: int, dtype: torch.dtype, result: torch.dtype | None = None,
             name: str = "matrix"):
    """A rows x cols tensor: contiguous, a transposed view, or a strided slice
    (every other row or column of a larger tensor whose gaps hold GAP)."""
    layout = draw(st.sampled_from(LAYOUTS))
    note(f"{name}: {rows} x {cols} {dtype}, {layout}")  # a tensor's repr hides its layout
    values = draw(st.lists(elements(dtype, result or dtype),
                           min_size=rows * cols, max_size=rows * cols))
    base = torch.tensor(values, dtype=torch.float64 if dtype.is_floating_point else torch.int64)
    if layout == "transposed":  # stored column-major: .T of a contiguous cols x rows
        return base.reshape(cols, rows).to(dtype).T
    dense = base.reshape(rows, cols).to(dtype)
    if layout == "contiguous":
        return dense
    step = (2, 1) if layout == "row_slice" else (1, 2)
    big = torch.full((rows * step[0], cols * step[1]), GAP[dtype.is_floating_point], dtype=dtype)
    view = big[:: step[0], :: step[1]]
    view.copy_(dense)
    return view


def _result(a: torch.dtype, b: torch.dtype) -> torch.dtype:
    return torch.result_type(torch.empty(0, dtype=a), torch.empty(0, dtype=b))


@st.composite
def dtype_pairs(draw, kernel) -> tuple[torch.dtype, torch.dtype]:
    """Mostly one dtype for both operands, sometimes a mixed pair (int/float,
    float32/float64, ...) whose product has dtype torch.result_type(a, b);
    only dtypes the kernel declares it computes, alone and together (the
    properties also multiply each operand by an identity of its own dtype)."""
    own = [d for d in DTYPES if kernel.computes(d)]
    a, mixed = draw(st.sampled_from(own)), draw(st.booleans())
    b = draw(st.sampled_from([d for d in own if kernel.computes(_result(a, d))]))
    return (a, b) if mixed else (a, a)  # b always drawn: shrinking `mixed` shifts nothing


@st.composite
def matmul_pairs(draw, kernel, addend: bool = False):
    """(a, b) with a.shape[1] == b.shape[0], sized for `kernel`; with
    addend=True also c, shaped and typed like b (for A @ (B + C))."""
    a_dtype, b_dtype = draw(dtype_pairs(kernel))
    result = _result(a_dtype, b_dtype)
    m, k, n = draw(shapes(kernel, result))
    operands = (draw(matrices(m, k, a_dtype, result, "a")),
                draw(matrices(k, n, b_dtype, result, "b")))
    if addend:
        operands += (draw(matrices(k, n, b_dtype, result, "c")),)
    return operands


def matmul_triples(kernel):
    return matmul_pairs(kernel, addend=True)


@st.composite
def malformed_pairs(draw, kernel):
    """Operands the contract rejects: inner dimensions that differ, or an
    operand that is not 2-D (0-, 1- or 3-D), in a dtype the kernel computes.
    Values do not matter: zeros."""
    dtype = draw(st.sampled_from([d for d in DTYPES if kernel.computes(d)]))
    dim = st.integers(0, 4)
    if draw(st.booleans()):
        m, k, n = draw(dim), draw(dim), draw(dim)
        other = draw(dim.filter(lambda d: d != k))
        a_shape, b_shape = (m, k), (other, n)
    else:
        bad = tuple(draw(st.lists(dim, max_size=3).filter(lambda s: len(s) != 2)))
        good = (draw(dim), draw(dim))
        a_shape, b_shape = (bad, good) if draw(st.booleans()) else (good, bad)
    return torch.zeros(a_shape, dtype=dtype), torch.zeros(b_shape, dtype=dtype)
