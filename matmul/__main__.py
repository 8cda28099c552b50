"""List the registered kernels: python -m matmul"""
from __future__ import annotations

from . import KERNELS, UNAVAILABLE


def main() -> int:
    width = max(map(len, [*KERNELS, *UNAVAILABLE]), default=0)
    for kernel in KERNELS.values():
        devices = ", ".join(sorted(kernel.devices))
        print(f"{kernel.name:<{width}}  python_dims={kernel.python_dims}  max_rows={kernel.max_rows:<6} "
              f"{'[' + devices + ']':<13} {kernel.summary}")
    for name, reason in UNAVAILABLE.items():
        print(f"{name:<{width}}  unavailable: {reason}")
    return 0


if __name__ == "__main__":
    from bench import cli  # the commands' one exit path; the kernels do not need it

    cli.exit_with(main)
