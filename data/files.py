"""The four canonical MNIST files and their SHA256.

The hashes are those in ``shared/data/mnist/README.md`` (they match
TensorFlow Datasets' checksums); a file is trusted only if it hashes to one.
"""

from types import MappingProxyType

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

# Read-only, so no caller can weaken the check by editing a hash.
MNIST_FILES = MappingProxyType(
    {
        TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }
)


def file_list() -> str:
    """The four names, for error messages that tell the user what to provide."""
    return ", ".join(MNIST_FILES)
