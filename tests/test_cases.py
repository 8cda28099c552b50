"""Which reference each benchmark is timed beside (bench.suite.cases)."""
from __future__ import annotations

import torch

import matmul
from bench.gate import calm
from bench.suite import cases


def _expected_reference(kernel: matmul.Kernel) -> str:
    if kernel.python_dims:
        return cases.INTERPRETER
    return cases.READ_X if kernel.name == cases.REFERENCE_KERNEL else cases.SAME_WORK


def test_each_kernel_is_paired_with_a_reference_of_its_own_bottleneck():
    x = torch.rand(3, 4)
    names = {kernel.name: cases.reference_for(kernel, x, lambda: None).name
             for kernel in matmul.KERNELS.values()}
    assert names == {kernel.name: _expected_reference(kernel)
                     for kernel in matmul.KERNELS.values()}
    assert names["dot_product"] == cases.INTERPRETER and names["numba_tuned"] == "torch"


def test_the_interpreter_reference_runs_its_fixed_steps_on_x_and_not_the_kernel():
    x = torch.rand(3, 4)
    calls = []
    reference = cases.reference_for(matmul.KERNELS["dot_product"], x, lambda: calls.append(1))
    torch.testing.assert_close(reference.call(),
                               torch.full((cases.INTERPRETER_STEPS,), float(x[0] @ x[1])))
    one_row = torch.rand(1, 4)
    torch.testing.assert_close(cases.interpreter_steps(one_row)[0], (one_row[0] ** 2).sum())
    assert calls == []


def test_the_same_work_reference_is_the_builtin_forward_pass_in_torch_alone():
    from forward import MLP

    mlp = MLP.kaiming((6, 5, 3), seed=1)
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(2))
    assert torch.equal(cases.torch_forward(x, mlp.layers), mlp.with_kernel("builtin")(x))


def test_outside_gate_ready_runs_only_the_largest_slice_times_the_probe_twice(monkeypatch):
    from matmul import compiled

    monkeypatch.delenv(cases.ALTERNATIVES_ENV, raising=False)
    kernel = matmul.KERNELS["builtin"]
    largest = torch.zeros(cases.PROBED_ROWS, 4)
    probes = [r.name for r in cases.reference_for(kernel, largest, lambda: None).alternatives]
    assert probes == ([cases.FMA, cases.FMA_AGAIN] if compiled.numba is not None else [])
    # the names the gate reads them by (bench.gate.calm keeps its own copy: it loads no torch)
    assert (cases.FMA, cases.FMA_AGAIN) == (calm.FIRST, calm.AGAIN)
    assert cases.reference_for(kernel, largest[:5], lambda: None).alternatives == ()
    monkeypatch.setenv(cases.ALTERNATIVES_ENV, "1")  # gate-ready: every slice, every kind
    names = [r.name for r in cases.reference_for(kernel, largest[:5], lambda: None).alternatives]
    assert names == probes + [cases.GEMM]  # the builtin's primary is the read of x
