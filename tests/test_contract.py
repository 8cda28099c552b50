"""The contract every kernel keeps, one example-based test per rule.

Each test runs on every registered kernel (kernel_params), so a kernel added
later is held to the same contract with no code here. Hypothesis versions of
these rules live in test_kernel_properties.py.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

import matmul
from kernel_params import kernel_params
from matmul import ContractError, Kernel, UnsupportedDtypeError, UnsupportedLayoutError
from matmul.accuracy import check_product

KERNELS = pytest.mark.parametrize("kernel", kernel_params())


def widest_float(kernel) -> torch.dtype:
    """float64 if the kernel computes it, else float32 (which every kernel computes)."""
    return torch.float64 if kernel.computes(torch.float64) else torch.float32


def operand(rows, cols, seed=0, dtype=torch.float64):
    """A matrix of quarter-integers in [-2.25, 2.25] (exact in every float dtype), reproducible."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randint(-9, 10, (rows, cols), generator=generator).double() / 4).to(dtype)


def product_or_refusal(kernel, a, b):
    """kernel(a, b); or, for a product dtype the kernel does not declare, check
    that it is refused naming that dtype and return None."""
    dtype = torch.result_type(a, b)
    if kernel.computes(dtype):
        return kernel(a, b)
    with pytest.raises(UnsupportedDtypeError, match=rf"{kernel.name}.*product {dtype}"):
        kernel(a, b)
    return None


@KERNELS
def test_lesson_example(kernel):
    for dtype in (torch.int64, torch.float32, torch.float64):
        a = torch.tensor([[1, 2], [3, 4]], dtype=dtype)
        b = torch.tensor([[5, 6], [7, 8]], dtype=dtype)
        c = product_or_refusal(kernel, a, b)
        assert c is None or c.tolist() == [[19, 22], [43, 50]], dtype


SPARSE = pytest.mark.parametrize("layout, operand_index", [
    (torch.sparse_coo, 0), (torch.sparse_coo, 1), (torch.sparse_csr, 0),
], ids=["coo-a", "coo-b", "csr-a"])


@KERNELS
@SPARSE
@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_a_sparse_operand_is_computed_or_refused_naming_its_layout(kernel, layout, operand_index):
    dtype = widest_float(kernel)
    dense = [operand(3, 4, seed=1, dtype=dtype), operand(4, 2, seed=2, dtype=dtype)]
    operands = list(dense)
    operands[operand_index] = dense[operand_index].to_sparse(layout=layout)
    if layout in kernel.layouts:
        c = kernel(*operands)
        assert torch.equal(c.to_dense() if c.layout != torch.strided else c, dense[0] @ dense[1])
    else:
        with pytest.raises(UnsupportedLayoutError, match=rf"'{kernel.name}' reads .*{layout}"):
            kernel(*operands)


def test_a_kernels_own_errors_pass_through_on_its_declared_layouts():
    def fails(a, b):
        raise RuntimeError("the kernel's own error")

    kernel = Kernel(name="fails", fn=fails, python_dims=0, max_rows=0)
    with pytest.raises(RuntimeError, match="the kernel's own error"):
        kernel(torch.ones(2, 3), torch.ones(3, 1))
    sparse = dataclasses.replace(kernel, layouts=frozenset({torch.strided, torch.sparse_coo}))
    with pytest.raises(RuntimeError, match="the kernel's own error"):
        sparse(torch.ones(2, 3).to_sparse(), torch.ones(3, 1))
    with pytest.raises(UnsupportedLayoutError, match=r"got a \(2, 3\) torch.sparse_coo @ b \(3, 1\) "
                                                     r"torch.strided") as raised:
        kernel(torch.ones(2, 3).to_sparse(), torch.ones(3, 1))
    assert "the kernel's own error" in str(raised.value.__cause__)


def test_undeclared_dtype_is_refused_before_the_kernel_runs():
    calls = []
    kernel = Kernel(name="f32_only", fn=lambda a, b: calls.append(1) or a @ b, python_dims=0,
                    max_rows=0, dtypes=frozenset({torch.float32}))
    assert kernel(torch.ones(2, 3), torch.ones(3, 1)).tolist() == [[3.0], [3.0]]
    with pytest.raises(UnsupportedDtypeError,
                       match=r"'f32_only' computes \['torch.float32'\], got a \(2, 3\) torch.int64 "
                             r"@ b \(3, 1\) torch.float64 \(product torch.float64\)"):
        kernel(torch.ones(2, 3, dtype=torch.int64), torch.ones(3, 1, dtype=torch.float64))
    assert calls == [1]


@KERNELS
def test_lesson_mismatch(kernel):
    with pytest.raises(ContractError, match=r"\(2, 2\).*\(3, 2\)") as info:
        kernel(torch.ones(2, 2), torch.ones(3, 2))
    assert isinstance(info.value, AssertionError) and isinstance(info.value, ValueError)


DTYPE_PAIRS = [
    (torch.float64, torch.float64),  # float64-accurate, not float32 in disguise
    (torch.int64, torch.int64),      # exact
    (torch.int64, torch.float32),    # mixed int/float: float32
    (torch.float32, torch.int64),
    (torch.float32, torch.float64),  # mixed floats: float64
]


@KERNELS
def test_result_dtype(kernel):
    a64 = torch.randn(3, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    b64 = torch.randn(5, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for a_dtype, b_dtype in DTYPE_PAIRS:
        # integer operands: small whole numbers, so the exact product is known
        a = (a64 if a_dtype.is_floating_point else (a64 * 10).round()).to(a_dtype)
        b = (b64 if b_dtype.is_floating_point else (b64 * 10).round()).to(b_dtype)
        c = product_or_refusal(kernel, a, b)
        if c is not None:
            assert c.dtype == torch.result_type(a, b), (a_dtype, b_dtype, c.dtype)
            check_product(c, a, b)  # within γ_K of the result dtype, exact for integers


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize(
    "kernel, device",
    [pytest.param(*p.values, device, id=f"{p.id}-{device}", marks=p.marks)
     for device in DEVICES for p in kernel_params(device)],
)
def test_device_preserved(kernel, device):
    dtype = widest_float(kernel)
    a, b = operand(3, 4, dtype=dtype).to(device), operand(4, 2, seed=1, dtype=dtype).to(device)
    c = kernel(a, b)
    assert c.device == a.device
    check_product(c, a, b)


@KERNELS
def test_non_tensor_operand(kernel):
    b = torch.ones(2, 2)
    with pytest.raises(TypeError, match=r"\ba\b.*list"):
        kernel([[1.0, 2.0], [3.0, 4.0]], b)
    with pytest.raises(TypeError, match=r"\bb\b.*ndarray"):
        kernel(b, b.numpy())


@KERNELS
def test_not_2d(kernel):
    for a_shape, b_shape in [((3,), (3, 2)), ((2, 3), (3,)), ((), (2, 2)),
                             ((1, 2, 3), (3, 2)), ((2, 3), (2, 3, 4))]:
        with pytest.raises(ContractError, match="2-D"):
            kernel(torch.ones(a_shape), torch.ones(b_shape))


@KERNELS
def test_zero_size(kernel):
    for m, k, n in [(2, 0, 3), (0, 2, 3), (2, 3, 0), (0, 0, 0)]:
        for dtype in (torch.int64, torch.float32):
            c = product_or_refusal(kernel, torch.ones(m, k, dtype=dtype),
                                   torch.ones(k, n, dtype=dtype))
            if c is None:
                continue
            # k = 0: an empty sum is 0, not whatever torch.empty held
            case = f"{m} x {k} @ {k} x {n} {dtype}"
            torch.testing.assert_close(c, torch.zeros(m, n, dtype=dtype), rtol=0, atol=0,
                                       msg=lambda msg, case=case: f"{case}: {msg}")


def _views(dtype):
    def op(rows, cols, seed=0):
        return operand(rows, cols, seed, dtype)

    a, b = op(6, 8), op(8, 6, seed=1)
    return {
        "transposed": (a.T.contiguous().T, b.T.contiguous().T),   # column-major storage
        "transpose_of_other": (b.T, a.T),
        "row_slice": (op(12, 8)[::2], op(16, 6, seed=1)[::2]),
        "column_slice": (op(6, 16)[:, ::2], op(8, 12, seed=1)[:, 1::2]),
        "sub_block": (op(9, 9)[1:7, 1:9], op(9, 9, seed=1)[1:9, 2:8]),
    }


@KERNELS
def test_non_contiguous(kernel):
    for layout, (a, b) in _views(widest_float(kernel)).items():
        assert not (a.is_contiguous() or b.is_contiguous()), layout
        a_before, b_before = a.clone(), b.clone()
        check_product(kernel(a, b), a, b)
        assert torch.equal(a, a_before) and torch.equal(b, b_before), f"{layout}: inputs modified"


def test_python_m_matmul_lists_every_kernel_with_what_it_does(capsys, monkeypatch):
    import matmul.__main__ as listing_module

    # Unavailable kernels set up here, a short and a long name, so the check
    # holds whichever optional extras this machine has and however names pad.
    unavailable = {**matmul.UNAVAILABLE, "k": "extra 'k' missing",
                   "a_kernel_named_longer_than_any_other": "extra 'long' missing"}
    monkeypatch.setattr(listing_module, "UNAVAILABLE", unavailable)
    assert listing_module.main() == 0
    lines = capsys.readouterr().out.splitlines()
    for kernel in matmul.KERNELS.values():
        assert kernel.summary, f"{kernel.name} has no docstring summary"
        assert any(line.split()[0] == kernel.name and line.endswith(kernel.summary)
                   for line in lines), f"{kernel.name} not listed with its summary"
    for name, reason in unavailable.items():
        assert any(line.split()[:2] == [name, "unavailable:"] and line.endswith(reason)
                   for line in lines), f"{name} not listed as unavailable: {reason}"
