"""symgrad: derive, check and compile neural-network gradients symbolically."""
__version__ = "0.1.0"
from .activations import ACTIVATIONS, Activation, get_activation
from .derive import Derivation, DeltaStep, Factor, Gradient, derive
from .compile import CompiledNetwork, compile  # noqa: A004
from .train import Step, TrainingResult, train
from .errors import *  # noqa: F401,F403
from .losses import LOSSES, Loss, get_loss
from .network import Dense, Network, load
from .spec import Spec, parse_spec, read_spec
from .report import render_report  # binds symgrad.report too: the package, callable as render_report
from .layers import CompiledLayers, FitResult, LayerDerivation, derive_layers, fit
from .verify import CheckResult, check, check_file
from .testing import assert_gradient_matches
