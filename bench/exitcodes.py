"""What every `python -m bench ...` command's exit status means (README, "Commands")."""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0            # ran, and found no regression
    REGRESSION = 1    # a measured regression, and nothing else
    USAGE = 2         # unusable input, usage, a missing extra, or an unexpected error (one line, no traceback)
    INCOMPARABLE = 3  # runs from different machines or environments
