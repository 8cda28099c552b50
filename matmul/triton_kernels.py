"""Kernels written in Triton: blocks of a and b multiplied with `tl.dot`.

- `triton_tiled`: the general tiled GEMM. One program computes one
  BLOCK_M x BLOCK_N block of c, stepping through k BLOCK_K at a time; programs
  are ordered in groups of GROUP_M row blocks so that neighbours share blocks
  of b in cache. Edges are masked (loads padded with zeros, stores skipped), and
  every operand is addressed through its own strides, so any shape and any
  layout (transposed, sliced, expanded) is read in place.
- `triton_skinny`: shaped for the MNIST layer (50 000 x 784 @ 784 x 10). n is
  padded to one block of 16 columns (b's missing columns load as zeros, c's
  are not stored), so one program computes a whole block of rows: x is read
  once, in row blocks streamed along k, and the 784 x 16 block of b (50 KB in
  float32) stays in cache. k = 784 is 12 steps of 64 and 16 more, so the loop
  over k runs without a k mask over whole BLOCK_K steps and one masked step
  takes the rest. Correct for every shape: wider n gets more column blocks
  (up to 64 columns each), other k and m the same masks.

Dtypes (what each kernel computes in; `TILED_DTYPES` and `SKINNY_DTYPES` are
what `matmul/__init__.py` declares, and the registry refuses the rest with
UnsupportedDtypeError before a kernel runs):

- float32: `tl.dot(..., input_precision="ieee")`, IEEE float32 products and
  sums. Triton's default on GPUs with tensor cores is TF32, which keeps 10 of
  float32's 23 mantissa bits (an error of ~1e-3 relative, far outside the
  γ_K |A||B| bound of matmul.accuracy), so it is never used.
- float16 and bfloat16: products summed in a float32 accumulator, rounded once
  to the output dtype at the store (round to nearest even, as cuBLAS's half
  GEMM does); under Triton's interpreter, through float32 instead
  (`_interpreted_bfloat16` says why that is the same arithmetic).
- float64: `tl.dot` in float64 with a float64 accumulator (both kernels).
- int32 and int64 (`triton_tiled` only): `tl.dot` takes no integers wider than
  int8, so the tiled kernel multiplies each block as a broadcast product summed
  over k (`tl.sum`) in the operands' own integer type: exact, and wrapping on
  overflow as torch's does. `triton_skinny` computes floating point only: its
  shape is the float32 MNIST layer, and integer products are refused.

Devices: Triton compiles for CUDA (the registry declares devices={"cuda"}).
With TRITON_INTERPRET=1 set before import, Triton's interpreter runs the same
kernels on CPU tensors with numpy, one program after another in Python: the
registry then adds "cpu" with a small row budget (a test tool, not a fast path).

triton is an optional extra (`pip install 'matmul-bench[triton]'`). 3.7 is the
oldest version checked (3.7, 3.8, 3.9 pass the tests under the interpreter;
3.4's and 3.6's interpreters fail on numpy 2's scalars, 3.0's on the block
sizes; 3.7's `tl.dot` wants out_dtype for a float64 accumulator, so it is
passed). Without triton (or with one that fails to import) this module still
imports, `TRITON_MISSING` says why, and `matmul/__init__.py` lists both
kernels in `UNAVAILABLE` with that reason.
"""
from __future__ import annotations

import torch

from .optional import import_extra

(triton, tl), TRITON_MISSING = import_extra("triton", "triton", "triton.language")


# Whether Triton's interpreter runs the @triton.jit kernels below: Triton's own
# reading of TRITON_INTERPRET, taken when they are decorated (at import).
INTERPRET = triton is not None and bool(triton.knobs.runtime.interpret)



def declaration(interpret: bool) -> dict:
    """What the registry declares for both kernels: CUDA, compiled; under the
    interpreter also the CPU, one block at a time in Python, so python_dims=1 (like
    tiled) and a small row budget."""
    if interpret:
        return {"python_dims": 1, "max_rows": 50, "devices": frozenset({"cuda", "cpu"})}
    return {"python_dims": 0, "max_rows": 50_000, "devices": frozenset({"cuda"})}


FLOAT_DTYPES = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64})
TILED_DTYPES = FLOAT_DTYPES | {torch.int32, torch.int64}
SKINNY_DTYPES = FLOAT_DTYPES

# (BLOCK_M, BLOCK_N, BLOCK_K) of triton_tiled per dtype. The integer path holds
# a BLOCK_M x BLOCK_K x BLOCK_N product in registers, hence its small blocks.
TILED_BLOCKS = {
    torch.float16: (64, 64, 32),
    torch.bfloat16: (64, 64, 32),
    torch.float32: (64, 64, 32),
    torch.float64: (32, 32, 16),
    torch.int32: (16, 16, 16),
    torch.int64: (16, 16, 16),
}
GROUP_M = 8

# (BLOCK_M, BLOCK_K) of triton_skinny per dtype; BLOCK_N is n rounded up to a
# power of two, at least 16 (the smallest block older tl.dot takes) and at most 64.
SKINNY_BLOCKS = {
    torch.float16: (128, 64),
    torch.bfloat16: (128, 64),
    torch.float32: (64, 64),
    torch.float64: (32, 32),
}
SKINNY_MIN_N, SKINNY_MAX_N = 16, 64

NUM_WARPS, NUM_STAGES = 4, 3


def _missing():
    raise ImportError(TRITON_MISSING)


if triton is not None:
    _TL_DTYPES = {
        torch.float16: tl.float16, torch.bfloat16: tl.bfloat16, torch.float32: tl.float32,
        torch.float64: tl.float64, torch.int32: tl.int32, torch.int64: tl.int64,
    }

    @triton.jit
    def _multiply_add(acc, a, b, USE_DOT: tl.constexpr):
        # acc + a @ b for one block: tl.dot (IEEE float32 for float32 inputs;
        # the option is ignored for other dtypes) summed in acc's dtype (older
        # Triton defaults out_dtype to float32 even for a float64 acc), or, for
        # integers, the broadcast product summed over k.
        if USE_DOT:
            acc = tl.dot(a, b, acc, input_precision="ieee", out_dtype=acc.dtype)
        else:
            acc += tl.sum(a[:, :, None] * b[None, :, :], axis=1)
        return acc

    @triton.jit
    def _tiled_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                      stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                      GROUP_M: tl.constexpr, ACC: tl.constexpr, USE_DOT: tl.constexpr):
        # Program pid -> block (pid_m, pid_n), GROUP_M row blocks at a time.
        pid = tl.program_id(0)
        blocks_m = tl.cdiv(M, BLOCK_M)
        blocks_n = tl.cdiv(N, BLOCK_N)
        per_group = GROUP_M * blocks_n
        first_m = (pid // per_group) * GROUP_M
        group_m = min(blocks_m - first_m, GROUP_M)
        pid_m = first_m + (pid % per_group) % group_m
        pid_n = (pid % per_group) // group_m

        # int64 offsets: m * stride may pass 2**31 on large operands.
        rm = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
        rn = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
        rk = tl.arange(0, BLOCK_K)
        a_ptrs = a_ptr + rm[:, None] * stride_am + rk[None, :] * stride_ak
        b_ptrs = b_ptr + rk[:, None] * stride_bk + rn[None, :] * stride_bn
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
        for k in range(0, K, BLOCK_K):
            # Outside the matrices: zeros, which add nothing to the sums.
            a = tl.load(a_ptrs, mask=(rm[:, None] < M) & (rk[None, :] < K - k), other=0)
            b = tl.load(b_ptrs, mask=(rk[:, None] < K - k) & (rn[None, :] < N), other=0)
            acc = _multiply_add(acc, a, b, USE_DOT)
            a_ptrs += BLOCK_K * stride_ak
            b_ptrs += BLOCK_K * stride_bk
        c_ptrs = c_ptr + rm[:, None] * stride_cm + rn[None, :] * stride_cn
        tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=(rm[:, None] < M) & (rn[None, :] < N))

    @triton.jit
    def _skinny_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                       stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                       BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                       ACC: tl.constexpr):
        # Row blocks vary fastest: neighbouring programs share b's column block
        # (for MNIST there is only one).
        pid = tl.program_id(0)
        blocks_m = tl.cdiv(M, BLOCK_M)
        pid_m = pid % blocks_m
        pid_n = pid // blocks_m

        rm = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
        rn = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
        rk = tl.arange(0, BLOCK_K)
        row_ok = rm[:, None] < M
        col_ok = rn[None, :] < N  # n padded to BLOCK_N: missing columns load as 0
        a_ptrs = a_ptr + rm[:, None] * stride_am + rk[None, :] * stride_ak
        b_ptrs = b_ptr + rk[:, None] * stride_bk + rn[None, :] * stride_bn
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
        # Whole BLOCK_K steps with no mask along k ...
        whole = K - K % BLOCK_K
        for _k in range(0, whole, BLOCK_K):
            a = tl.load(a_ptrs, mask=row_ok, other=0)
            b = tl.load(b_ptrs, mask=col_ok, other=0)
            acc = _multiply_add(acc, a, b, True)
            a_ptrs += BLOCK_K * stride_ak
            b_ptrs += BLOCK_K * stride_bk
        # ... then the rest of k (784 = 12 x 64 + 16), masked.
        if whole < K:
            rest = rk < K - whole
            a = tl.load(a_ptrs, mask=row_ok & rest[None, :], other=0)
            b = tl.load(b_ptrs, mask=rest[:, None] & col_ok, other=0)
            acc = _multiply_add(acc, a, b, True)
        c_ptrs = c_ptr + rm[:, None] * stride_cm + rn[None, :] * stride_cn
        tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=row_ok & col_ok)


def _accumulator(dtype: torch.dtype):
    """The tl dtype blocks are summed in: float32 for 16-bit floats, else dtype."""
    return tl.float32 if dtype in (torch.float16, torch.bfloat16) else _TL_DTYPES[dtype]


def _launch(kernel, grid: int, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, **constants):
    m, k = a.shape
    n = b.shape[1]
    args = (a, b, c, m, n, k, *a.stride(), *b.stride(), *c.stride())
    if a.is_cuda:  # launch on the operands' GPU, not whichever is current
        with torch.cuda.device(a.device):
            kernel[(grid,)](*args, **constants, num_warps=NUM_WARPS, num_stages=NUM_STAGES)
    else:  # the interpreter on CPU tensors
        kernel[(grid,)](*args, **constants)


def _check(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, dtypes) -> bool:
    """Raise unless c (m x n) can take a @ b; whether there is any sum to compute."""
    if triton is None:
        _missing()
    if not a.dtype == b.dtype == c.dtype or a.dtype not in dtypes:
        # The registry converts both operands to the product dtype and refuses
        # undeclared dtypes, so only a direct call gets here.
        raise TypeError(f"this Triton kernel computes {sorted(map(str, dtypes))} with a, b and c "
                        f"alike, got {a.dtype} @ {b.dtype} into {c.dtype}")
    if c.shape != (a.shape[0], b.shape[1]):
        raise ValueError(f"c {tuple(c.shape)} for a {tuple(a.shape)} @ b {tuple(b.shape)}")
    if a.shape[1] == 0:  # an empty sum is 0: no program to launch
        c.zero_()
    return c.numel() > 0 and a.shape[1] > 0


def _interpreted_bfloat16(into, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> bool:
    """Under the interpreter, bfloat16 through float32: the interpreter's bfloat16
    `tl.dot` multiplies bit patterns (triton-lang/triton#11584) and its float32 ->
    bfloat16 cast truncates. Widening is exact, a product of two bfloat16 numbers
    is exact in float32, and torch rounds the float32 sums once to nearest even:
    what the compiled bfloat16 path computes (float32 accumulator, one rounding)."""
    if not (INTERPRET and a.dtype == torch.bfloat16):
        return False
    wide = torch.empty(c.shape, dtype=torch.float32, device=c.device)
    c.copy_(into(a.float(), b.float(), wide))
    return True


def tiled_into(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Write a @ b into c (any strides) with the tiled kernel; entries outside c are never touched."""
    if _check(a, b, c, TILED_DTYPES) and not _interpreted_bfloat16(tiled_into, a, b, c):
        (m, n), dtype = c.shape, a.dtype
        block_m, block_n, block_k = TILED_BLOCKS[dtype]
        grid = triton.cdiv(m, block_m) * triton.cdiv(n, block_n)
        _launch(_tiled_kernel, grid, a.detach(), b.detach(), c,
                BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, GROUP_M=GROUP_M,
                ACC=_accumulator(dtype), USE_DOT=dtype.is_floating_point)
    return c


def skinny_block_n(n: int) -> int:
    """Columns per program: n rounded up to a power of two in [16, 64]."""
    return min(max(triton.next_power_of_2(n), SKINNY_MIN_N), SKINNY_MAX_N)


def skinny_into(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Write a @ b into c (any strides) with the skinny kernel; entries outside c are never touched."""
    if _check(a, b, c, SKINNY_DTYPES) and not _interpreted_bfloat16(skinny_into, a, b, c):
        (m, n), dtype = c.shape, a.dtype
        block_m, block_k = SKINNY_BLOCKS[dtype]
        block_n = skinny_block_n(n)
        grid = triton.cdiv(m, block_m) * triton.cdiv(n, block_n)
        _launch(_skinny_kernel, grid, a.detach(), b.detach(), c,
                BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, ACC=_accumulator(dtype))
    return c


def _output(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.empty(a.shape[0], b.shape[1], dtype=a.dtype, device=a.device)


def triton_tiled(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Tiled Triton GEMM: tl.dot on 64 x 64 x 32 blocks, masked edges, any strides.

    float32 in IEEE float32 (never TF32), float16/bfloat16 summed in float32,
    float64 in float64; int32/int64 exact on a broadcast-and-sum path."""
    return tiled_into(a, b, _output(a, b))


def triton_skinny(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Triton for the skinny MNIST layer: n padded to 16, one program per row block.

    Tuned for k = 784, n = 10; correct for every shape (more column blocks for
    n > 64). Floating point only, as triton_tiled computes it."""
    return skinny_into(a, b, _output(a, b))
