"""The suite tests itself: every subtly broken kernel below fails a property.

Each broken kernel is a `Kernel` record (never registered: no side effects)
wrapping one realistic mistake, paired with the property that must catch it.
The example that catches it passes with torch.matmul, so a catch is the bug's
doing, not the harness's. Weaken a property and its row here fails.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import HypothesisException
from test_kernel_properties import accurate, algebra, keeps_contract, rejects_malformed

from matmul.registry import Kernel

# Deterministic and quick: no database, no shrinking (only "is it caught?").
SELF_TEST = settings(
    max_examples=300,  # the slowest catches take ~100 (reshapes_for_transpose): room to spare
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)


def failure(prop, kernel):
    """(exception, operands) of the first example where `prop` fails on
    `kernel` under SELF_TEST, or (None, None)."""
    seen = []

    @SELF_TEST
    @given(prop.operands(kernel))
    def run(operands):
        seen[:] = [tuple(t.clone() for t in operands)]  # before the kernel can touch them
        prop(kernel, *operands)

    try:
        run()
    except HypothesisException:
        raise  # a harness problem (unsatisfiable, flaky) is not a catch
    except Exception as error:  # AssertionError, or the kernel crashing on valid input
        return error, seen[0]
    return None, None


def broken(name, fn, python_dims=0):
    return Kernel(name=name, fn=fn, python_dims=python_dims, max_rows=0)


def _zeros(a, b):
    return torch.zeros(a.shape[0], b.shape[1], dtype=a.dtype)


def skips_last_row(a, b):
    c = _zeros(a, b)
    for i in range(a.shape[0] - 1):  # off by one: should be range(m)
        c[i] = a[i] @ b
    return c


def carries_accumulator(a, b):
    c, acc = _zeros(a, b), torch.zeros(b.shape[1], dtype=a.dtype)
    for i in range(a.shape[0]):
        # acc = torch.zeros(n) belongs here: row i starts from row i-1's sum
        for t in range(a.shape[1]):
            acc += a[i, t] * b[t]
        c[i] = acc
    return c


def seeds_with_first_term(a, b):
    c = a[:, 0, None] * b[0]  # IndexError when k = 0: should start from zeros
    for t in range(1, a.shape[1]):
        c = c + a[:, t, None] * b[t]
    return c


def loops_k_for_n(a, b):
    c = _zeros(a, b)
    for j in range(a.shape[1]):  # should be b.shape[1]: columns left 0, or IndexError
        c[:, j] = a @ b[:, j]
    return c


def stacks_rows(a, b):
    rows = [a[i] @ b for i in range(a.shape[0])]
    return torch.stack(rows) if rows else a.new_zeros(0, 0)  # m = 0 must give 0 x n


def reshapes_for_transpose(a, b):
    bt = b.reshape(b.shape[1], b.shape[0])  # meant b.T: same shape, wrong order
    return (a[:, None, :] * bt[None, :, :]).sum(-1)


def reads_storage_row_major(a, b):
    # Hands raw storage to a "C" routine that assumes row-major: ignores strides.
    def row_major(t):
        return t.as_strided(t.shape, (t.shape[1], 1))

    return row_major(a) @ row_major(b)


NARROWER = {torch.float64: torch.float32, torch.float32: torch.bfloat16}


def narrow_accumulator(a, b):
    narrow = NARROWER.get(a.dtype, a.dtype)  # float64 summed in float32, float32 in bfloat16
    return (a.to(narrow) @ b.to(narrow)).to(a.dtype)


def transposes_b_in_place(a, b):
    bt = b.t_()  # meant b.t(): t_() transposes the caller's tensor
    return a @ bt.t()


def scales_by_max(a, b):
    # Divides by max|A| against overflow; an all-zero A gives 0 / 0 = NaN.
    if not a.is_floating_point() or a.numel() == 0:
        return a @ b
    scale = a.abs().max()
    return ((a / scale) @ b) * scale


class SkipsTheContract(Kernel):
    """A "fast path" record that hands operands straight to fn, unchecked."""

    def __call__(self, a, b):
        return self.fn(a, b)


def reuses_output_buffer():
    buffers = {}

    def fn(a, b):  # one preallocated output per shape: a second call overwrites the first
        out = buffers.setdefault((a.shape[0], b.shape[1], a.dtype), _zeros(a, b))
        return torch.matmul(a, b, out=out)

    return fn


BROKEN = [
    (broken("drops_last_term", lambda a, b: a[:, :-1] @ b[:-1]), accurate),
    (broken("forces_float32", lambda a, b: (a @ b).float()), keeps_contract),
    (broken("off_by_a_thousandth", lambda a, b: ((a @ b) * 1.001).to(a.dtype)), algebra),
    (broken("skips_last_row", skips_last_row, python_dims=1), accurate),
    (broken("carries_accumulator", carries_accumulator, python_dims=2), accurate),
    (broken("seeds_with_first_term", seeds_with_first_term, python_dims=1), accurate),
    (broken("loops_k_for_n", loops_k_for_n, python_dims=1), accurate),
    (broken("stacks_rows", stacks_rows, python_dims=1), accurate),
    (broken("reshapes_for_transpose", reshapes_for_transpose), accurate),
    (broken("reads_storage_row_major", reads_storage_row_major), algebra),
    (broken("narrow_accumulator", narrow_accumulator), accurate),
    (broken("transposes_b_in_place", transposes_b_in_place), keeps_contract),
    (broken("scales_by_max", scales_by_max), algebra),
    (broken("reuses_output_buffer", reuses_output_buffer()), algebra),
    (SkipsTheContract("skips_the_contract", torch.matmul, python_dims=0, max_rows=0), rejects_malformed),
]


CORRECT = broken("torch_matmul", torch.matmul)


@pytest.mark.parametrize(
    "kernel, prop", BROKEN, ids=[f"{k.name}-{p.__name__}" for k, p in BROKEN]
)
def test_broken_kernel_is_caught(kernel, prop):
    error, operands = failure(prop, kernel)
    assert error is not None, f"{prop.__name__} let {kernel.name} through"
    # The same operands pass with a correct kernel: the bug was caught, not the harness.
    prop(CORRECT, *operands)
