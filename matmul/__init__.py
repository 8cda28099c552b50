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
