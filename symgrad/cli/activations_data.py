"""The formula and derivative lines of ``symgrad activations`` for the built-in
entries, as SymPy prints them: written by ``python -m symgrad.cli.activations``; do
not edit. tests/test_activations_listing.py works them out again and compares."""

from __future__ import annotations

from typing import Any

SYMPY = '1.14.0'
LISTED: dict[str, dict[str, Any]] = {
    'sigmoid': {
        'function': 'symgrad.catalogue.activations.sigmoid',
        'params': {},
        'formula': 'sigmoid(z) = 1/(exp(-z) + 1)',
        'derivative': 'd/dz sigmoid(z) = (1 - sigmoid(z))*sigmoid(z)',
    },
    'tanh': {
        'function': 'sympy.functions.elementary.hyperbolic.tanh',
        'params': {},
        'formula': 'tanh(z) = (exp(z) - exp(-z))/(exp(-z) + exp(z))',
        'derivative': 'd/dz tanh(z) = 1 - tanh(z)**2',
    },
    'relu': {
        'function': 'symgrad.catalogue.activations.relu',
        'params': {},
        'formula': 'relu(z) = z*Heaviside(z, 0)',
        'derivative': 'd/dz relu(z) = Heaviside(z, 0)',
    },
    'softmax': {
        'function': 'symgrad.catalogue.softmax.softmax',
        'params': {},
        'formula': 's[k] = exp(z[k])/Sum(exp(z[j]), (j, 1, n))',
        'derivative': 'ds[k]/dz[j] = (KroneckerDelta(j, k) - s[j])*s[k]',
    },
    'binary_step': {
        'function': 'symgrad.catalogue.activations.binary_step',
        'params': {},
        'formula': 'binary_step(z) = Heaviside(z, 1)',
        'derivative': 'd/dz binary_step(z) = 0',
    },
    'linear': {
        'function': 'symgrad.catalogue.activations.linear',
        'params': {},
        'formula': 'linear(z) = z',
        'derivative': 'd/dz linear(z) = 1',
    },
    'leaky_relu': {
        'function': 'symgrad.catalogue.activations.leaky_relu',
        'params': {'alpha': 0.01},
        'formula': 'leaky_relu(z, 1/100) = z*(1 - Heaviside(z, 0))/100 + z*Heaviside(z, 0)',
        'derivative': 'd/dz leaky_relu(z, 1/100) = 99*Heaviside(z, 0)/100 + 1/100',
    },
    'elu': {
        'function': 'symgrad.catalogue.activations.elu',
        'params': {'alpha': 1.0},
        'formula': 'elu(z, 1) = (1 - Heaviside(z, 0))*(exp(z) - 1) + z*Heaviside(z, 0)',
        'derivative': 'd/dz elu(z, 1) = (1 - Heaviside(z, 0))*exp(z) + Heaviside(z, 0)',
    },
    'softplus': {
        'function': 'symgrad.catalogue.activations.softplus',
        'params': {},
        'formula': 'softplus(z) = log(exp(z) + 1)',
        'derivative': 'd/dz softplus(z) = sigmoid(z)',
    },
    'silu': {
        'function': 'symgrad.catalogue.activations.silu',
        'params': {},
        'formula': 'silu(z) = z/(exp(-z) + 1)',
        'derivative': 'd/dz silu(z) = (z*(1 - sigmoid(z)) + 1)*sigmoid(z)',
    },
    'gelu': {
        'function': 'symgrad.catalogue.activations.gelu',
        'params': {},
        'formula': 'gelu(z) = z*(erf(sqrt(2)*z/2) + 1)/2',
        'derivative': 'd/dz gelu(z) = sqrt(2)*z*exp(-z**2/2)/(2*sqrt(pi)) + erf(sqrt(2)*z/2)/2 + 1/2',
    },
}
