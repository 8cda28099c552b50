"""The forward pass of the lesson's MLP, every matmul on a chosen registry kernel.

    from forward import MLP, Normalizer
    norm = Normalizer.fit(mnist.x_train)           # training-set mean and std
    mlp = MLP.kaiming((784, 50, 10), seed=0)       # He init, seeded
    logits = mlp.with_kernel("einsum")(norm(mnist.x_valid[:500]))
"""
from .accuracy import check_forward, forward_allowance, reference_forward
from .init import kaiming_normal, kaiming_std, make_generator
from .layers import Linear, check_lin, lin, relu
from .mlp import MLP, MNIST_SIZES
from .normalize import Normalizer, normalize

__all__ = [
    "MLP", "MNIST_SIZES", "Linear", "Normalizer", "check_forward", "check_lin",
    "forward_allowance", "kaiming_normal", "kaiming_std", "lin", "make_generator",
    "normalize", "reference_forward", "relu",
]
