"""kerasish: Keras's training API (compile / fit / evaluate / predict) for raw PyTorch modules."""

from kerasish import callbacks, losses, metrics, optimizers, state, types, utils
from kerasish.fsdp import FSDP
from kerasish.model import Model

__version__ = "0.1.0"
__all__ = ["FSDP", "Model", "callbacks", "losses", "metrics", "optimizers", "state", "types", "utils"]
