"""Exceptions raised by the MNIST loader.

One base type, so callers can catch every data problem with one ``except``.
It subclasses ValueError because the usual cause is a file whose content is
wrong (corrupt, truncated, not MNIST).
"""


class MnistDataError(ValueError):
    """A file is missing, fails its SHA256 check or is not valid IDX."""


class MnistChecksumError(MnistDataError):
    """A file's SHA256 differs from the canonical one."""


class MnistUnavailableError(MnistDataError):
    """No directory was given and the files could be neither found nor downloaded."""
