"""Matrix-multiplication kernels behind one registry and one shape contract.

Every kernel is declared once below; `python -m matmul` lists them.
"""
# First, before anything imports torch: one OpenMP runtime for torch and numba.
from . import openmp  # noqa: F401, I001
import torch

from . import compiled, lesson, tiled, triton_kernels
from .contract import ContractError, check_operands
from .registry import (
    KERNELS,
    OUTPUT_ONLY,
    UNAVAILABLE,
    Kernel,
    UnsupportedDeviceError,
    UnsupportedDtypeError,
    UnsupportedLayoutError,
    Workspace,
    get_kernel,
    register,
)

CPU = frozenset({"cpu"})

# The lesson's ladder, slowest first, then what lies beyond it (python_dims and
# max_rows: Kernel's docstring). tiled loops over tiles, not elements:
# ceil(m / tile) * ceil(n / tile) * ceil(k / tile) steps, which python_dims=1
# (m steps) bounds. The numba kernels compute on .numpy() views (CPU
# only); without numba they are listed in UNAVAILABLE with the reason.
#
# workspace: what a call allocates beyond its output (README, "Memory"): the
# loop kernels make one step's temporaries at a time (dot_product a row
# product of k, broadcast a row's k x n product); the numba kernels copy b
# transposed, padded to whole passes of columns; the rest allocate the output.
ROW_PRODUCT = Workspace("output + k (one row times one column)", lambda m, k, n: k)
ROW_BROADCAST = Workspace("output + k·n (one row broadcast against b)", lambda m, k, n: k * n)
# Indexing and torch's own product read sparse operands too; the others
# reshape, copy or read memory directly (the registry's default: strided).
ANY_LAYOUT = frozenset({torch.strided, torch.sparse_coo, torch.sparse_csr})
register("three_loops", lesson.three_loops, python_dims=3, max_rows=5, workspace=OUTPUT_ONLY,
         layouts=ANY_LAYOUT)
register("dot_product", lesson.dot_product, python_dims=2, max_rows=50, workspace=ROW_PRODUCT,
         layouts=ANY_LAYOUT)
register("broadcast", lesson.broadcast, python_dims=1, max_rows=5_000, workspace=ROW_BROADCAST)
register("einsum", lesson.einsum, python_dims=0, max_rows=50_000, workspace=OUTPUT_ONLY)
register("builtin", lesson.builtin, python_dims=0, max_rows=50_000, workspace=OUTPUT_ONLY,
         layouts=ANY_LAYOUT)
register("tiled", tiled.tiled, python_dims=1, max_rows=5_000, params={"tile": tiled.DEFAULT_TILE},
         workspace=OUTPUT_ONLY)
register("numba_three_loops", compiled.numba_three_loops, python_dims=0, max_rows=5_000,
         devices=CPU, workspace=OUTPUT_ONLY, unavailable=compiled.NUMBA_MISSING)
register("numba_tuned", compiled.numba_tuned, python_dims=0, max_rows=50_000,
         devices=CPU, workspace=compiled.PADDED_WEIGHTS, unavailable=compiled.NUMBA_MISSING)
# Broadcast FMAs over the outputs, and a fused forward pass that forward.MLP runs whole.
register("numba_fused", compiled.numba_fused, python_dims=0, max_rows=50_000,
         devices=CPU, forward=compiled.fused_forward, workspace=compiled.GROUPED_COLUMNS,
         unavailable=compiled.NUMBA_MISSING)
# Triton kernels compile for CUDA; under TRITON_INTERPRET=1 Triton's interpreter
# also runs them on CPU tensors (triton_kernels.declaration). Without triton
# they are listed in UNAVAILABLE with the reason.
TRITON = triton_kernels.declaration(triton_kernels.INTERPRET)
register("triton_tiled", triton_kernels.triton_tiled, dtypes=triton_kernels.TILED_DTYPES,
         unavailable=triton_kernels.TRITON_MISSING, **TRITON)
register("triton_skinny", triton_kernels.triton_skinny, dtypes=triton_kernels.SKINNY_DTYPES,
         unavailable=triton_kernels.TRITON_MISSING, **TRITON)

__all__ = [
    "KERNELS", "OUTPUT_ONLY", "UNAVAILABLE", "ContractError", "Kernel", "UnsupportedDeviceError",
    "UnsupportedDtypeError", "UnsupportedLayoutError", "Workspace",
    "check_operands", "get_kernel", "register",
]
