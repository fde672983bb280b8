"""symgrad: derive, check and compile neural-network gradients symbolically."""
__version__ = "0.1.0"
from .activations import ACTIVATIONS, Activation, get_activation
from .derive import Derivation, DeltaStep, Factor, Gradient, derive
from .errors import *  # noqa: F401,F403
from .losses import LOSSES, Loss, get_loss
from .network import Dense, Network, load
from .spec import Spec, parse_spec, read_spec
