"""Plausible code changes the study measures: each a small edit a reviewer
could let through, applied by exact text substitution to a copy of the tree.
A substitution that no longer matches the code fails loudly: the study then
needs a patch that fits the code as it is."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Patch:
    name: str
    what: str
    edits: tuple[tuple[str, str, str], ...]  # (file, old text, new text)

    def apply(self, tree: Path) -> None:
        for name, old, new in self.edits:
            path = tree / name
            text = path.read_text(encoding="utf-8")
            if text.count(old) != 1:
                raise ValueError(f"patch {self.name}: {name} holds {text.count(old)} copies "
                                 f"of the text to replace (expected 1): {old!r}")
            path.write_text(text.replace(old, new), encoding="utf-8")


PATCHES = (
    Patch("copy_per_row",
          "lesson.broadcast copies each row before broadcasting it (.clone())",
          (("matmul/lesson.py", "c[i] = (a[i, :, None] * b).sum(dim=0)",
            "c[i] = (a[i, :, None].clone() * b).sum(dim=0)"),)),
    Patch("smaller_register_block",
          "numba_tuned blocks half the rows the vector registers hold (2 instead of 5 "
          "with AVX-512, 1 instead of 2 with AVX2: a change on every machine)",
          (("matmul/compiled.py",
            "ROWS = max(1, ((simd.VECTOR_REGISTERS if simd else 16) - 2) // (COLUMNS + 1))",
            "ROWS = max(1, ((simd.VECTOR_REGISTERS if simd else 16) - 2) // (COLUMNS + 1) // 2)"),)),
    Patch("fused_product_small_block",
          "numba_fused's product alone blocks 5/8 of the rows (5 instead of 8 with AVX-512, 3 "
          "instead of 6 with AVX2; a tuning edit meant for one kernel): a fast kernel slowed on "
          "500 rows, hardly on 5",
          (("matmul/compiled.py",
            "forward.MLP runs fused_forward.\n    \"\"\"\n    return _broadcast(a, b, _broadcast_shape())",
            "forward.MLP runs fused_forward.\n    \"\"\"\n"
            "    return _broadcast(a, b, _broadcast_shape(rows=BROADCAST_ROWS * 5 // 8))"),)),
    Patch("contract_twice",
          "the registry checks every call's operands twice (a refactor left a second check)",
          (("matmul/registry.py", "        check_operands(a, b)\n",
            "        check_operands(a, b)\n        check_operands(a, b)\n"),)),
)
