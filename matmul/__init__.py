"""Matrix-multiplication kernels behind one registry and one shape contract."""
from . import lesson
from .contract import ContractError, check_operands
from .registry import KERNELS, UNAVAILABLE, Kernel, UnsupportedDeviceError, get_kernel, register

# The lesson's ladder, slowest first. max_rows is the cost budget on MNIST
# (x_train[:rows] @ 784 x 10): three loops take ~0.3 s on 5 rows.
register("three_loops", lesson.three_loops, loops=3, max_rows=5,
         description="i, j, k in Python, scalar multiply-add")
register("dot_product", lesson.dot_product, loops=2, max_rows=50,
         description="i, j in Python, row x column summed")
register("broadcast", lesson.broadcast, loops=1, max_rows=5_000,
         description="i in Python, row broadcast against b")
register("einsum", lesson.einsum, loops=0, max_rows=50_000,
         description='torch.einsum("ik,kj->ij")')
register("builtin", lesson.builtin, loops=0, max_rows=50_000,
         description="a @ b (BLAS), the speed reference")

__all__ = [
    "KERNELS", "UNAVAILABLE", "ContractError", "Kernel", "UnsupportedDeviceError",
    "check_operands", "get_kernel", "register",
]

# ---- Issue 8: cache blocking and compiled kernels ---------------------------
# tiled: three Python loops over tiles, not elements; on MNIST's 784 x 10
# weights that is ceil(m/256) * 4 steps, which loops=1 (m steps) bounds.
# The numba kernels run no interpreter steps (loops=0), are CPU-only (they
# compute on .numpy() views), and numba is an optional extra: without it they
# are listed in UNAVAILABLE with the reason instead.
from . import compiled, tiled

register("tiled", tiled.tiled, loops=1, max_rows=5_000,
         params={"tile": tiled.DEFAULT_TILE},
         description="tile x tile blocks, each by @: cache blocking in Python loops")
if compiled.NUMBA_MISSING is None:
    register("numba_three_loops", compiled.numba_three_loops, loops=0, max_rows=5_000,
             devices=frozenset({"cpu"}),
             description="i, j, k compiled by numba (@njit), one thread")
    register("numba_tuned", compiled.numba_tuned, loops=0, max_rows=50_000,
             devices=frozenset({"cpu"}),
             description="numba, parallel over rows, 8 x 2 register blocking")
else:
    UNAVAILABLE.update(dict.fromkeys(("numba_three_loops", "numba_tuned"), compiled.NUMBA_MISSING))
