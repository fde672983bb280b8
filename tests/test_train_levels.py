"""One training loop, two levels: the scalar level (one compiled gradient per parameter)
and the layer level (matrix kernels over minibatches) train every shipped spec alike.

The two levels share the loop, the settings, the seeded batch order and the initial
parameters, so they must give the same losses at the same iterations and the same final
parameters, up to rounding: the bounds are a few ulps of the largest term summed (the
loss and gradient are sums over at most a handful of samples and units here).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from symgrad import ArgumentError, SpecError, train
from symgrad.network import load
from symgrad.spec import read_spec
from symgrad.train import choose_level

from .conftest import DERIVATIONS

SPECS = ["linear_cost", "two_neuron", "small_mlp", "deep_sigmoid_chain"]
MODES = [("batch", {}), ("minibatch", {"batch_size": 2}), ("stochastic", {})]


def _samples(name: str) -> int:
    net = load(DERIVATIONS / f"{name}.toml")
    return int(np.size(net.values[str(net.inputs[0])]))


# one-sample specs have no minibatches but the whole batch: their batch mode covers them
CASES = [(name, mode, extra) for name in SPECS for mode, extra in MODES
         if mode == "batch" or _samples(name) > 2]


@pytest.mark.parametrize("name, mode, extra", CASES,
                         ids=[f"{name}-{mode}" for name, mode, _ in CASES])
def test_both_levels_train_a_spec_alike(name: str, mode: str, extra: dict) -> None:
    net = load(DERIVATIONS / f"{name}.toml")
    settings = dict(mode=mode, epochs=3, seed=4, learning_rate=0.1, progress=False, **extra)
    scalar = train(net, level="scalar", **settings)
    layer = train(net, level="layer", **settings)
    assert (scalar.level, layer.level) == ("scalar", "layer")
    assert layer.iterations == scalar.iterations
    at = {s.iteration: s.loss for s in scalar.history}
    recorded = [s.iteration for s in layer.history]
    assert recorded == sorted(set(recorded)) and set(recorded) <= set(at)
    for step in layer.history:
        assert step.loss == pytest.approx(at[step.iteration], rel=1e-13, abs=1e-15)
    final = net.to_arrays(scalar.params)
    for key, value in layer.params.items():
        np.testing.assert_allclose(value, final[key], rtol=1e-12, atol=1e-14)
    assert layer.history[-1].grad_norm == pytest.approx(scalar.history[-1].grad_norm,
                                                        rel=1e-10, abs=1e-14)


def test_the_layer_level_records_once_an_epoch_and_the_scalar_level_every_update() -> None:
    net = load(DERIVATIONS / "small_mlp.toml")
    settings = dict(mode="minibatch", batch_size=3, epochs=2, learning_rate=0.5,
                    progress=False)
    # 4 samples in batches of 3: two updates an epoch, the second on one sample
    assert [s.iteration for s in train(net, level="layer", **settings).history] == [0, 2, 4]
    assert [s.iteration for s in train(net, level="scalar", **settings).history] == [
        0, 1, 2, 3, 4]


def test_each_update_is_timed_on_the_wall_clock_and_in_thread_cpu_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A wait (another process's turn on a shared machine) adds to ``seconds`` but not
    to ``cpu_seconds``, the CPU time of the training thread: each epoch here waits 50 ms."""
    from symgrad.train.models import LayerModel
    advance = LayerModel.advance

    def waiting(self: LayerModel, *args: object) -> object:
        time.sleep(0.05)
        return advance(self, *args)
    monkeypatch.setattr(LayerModel, "advance", waiting)
    net = load(DERIVATIONS / "small_mlp.toml")
    result = train(net, level="layer", mode="minibatch", batch_size=3, epochs=3,
                   learning_rate=0.5, progress=False)
    assert result.seconds.shape == result.cpu_seconds.shape == (3,)
    assert np.all(result.seconds >= 0.05) and np.all(result.cpu_seconds > 0)
    assert np.all(result.cpu_seconds < 0.04), result.cpu_seconds


def test_auto_picks_the_level_by_size_and_data() -> None:
    assert choose_level(read_spec(DERIVATIONS / "small_mlp.toml")) == "scalar"
    assert choose_level(read_spec(DERIVATIONS / "digits_mlp.toml")) == "layer"
    assert choose_level(read_spec(DERIVATIONS / "two_two_two.toml")) == "scalar"
    assert choose_level(read_spec(DERIVATIONS / "small_mlp.toml"), "layer") == "layer"


def test_levels_that_cannot_train_a_spec_say_why() -> None:
    digits = read_spec(DERIVATIONS / "digits_mlp.toml")
    with pytest.raises(SpecError) as info:
        train(digits, level="scalar")
    assert str(info.value) == (f"{digits.path}:19: field 'data.source': a named data set is "
                               "trained at the layer level; drop --level scalar")
    tied = read_spec(DERIVATIONS / "two_two_two.toml")
    with pytest.raises(SpecError, match=r"tied parameters are trained at the scalar level "
                                        r"only$"):
        train(tied, level="layer")
    with pytest.raises(Exception, match=r"^unknown level 'matrix'; known: auto, scalar, "
                                        r"layer$"):
        train(tied, level="matrix")


def test_layer_parameters_given_as_arrays_are_checked() -> None:
    net = load(DERIVATIONS / "small_mlp.toml")
    start = net.to_arrays()
    start["W1"] = start["W1"] + 0.25
    moved = train(net, level="layer", params={"W1": start["W1"]}, iterations=1,
                  progress=False)
    np.testing.assert_array_equal(moved.history[0].params["W1"], start["W1"])
    with pytest.raises(ArgumentError, match=r"^params\['W1'\] must be a finite array of "
                                            r"shape \(3, 2\)$"):
        train(net, level="layer", params={"W1": np.zeros((2, 3))}, progress=False)


def test_a_training_result_prints_one_line() -> None:
    # w after 10 steps: 2 - 1.8 * 0.56**10, so J = 0.55 (w - 2)^2 = 1.63934e-05
    result = train(load(DERIVATIONS / "linear_cost.toml"), iterations=10, progress=False)
    assert repr(result) == ("TrainingResult(level='scalar', iterations=10, loss=1.63934e-05, "
                            "reason='stopped after 10 iterations; the gradient norm 0.00601 "
                            "is above the tolerance 1e-09')")


def test_a_notebook_shows_a_summary_and_the_loss_curve() -> None:
    import xml.etree.ElementTree as ET

    result = train(load(DERIVATIONS / "linear_cost.toml"), iterations=20, progress=False)
    html = result._repr_html_()
    root = ET.fromstring(html)  # well-formed: the table and the SVG parse as XML
    cells = [("".join(th.itertext()), "".join(td.itertext()))
             for tr in root.iter("tr") for th, td in [tr]]
    assert cells[0] == ("level", "scalar")
    assert cells[2] == ("J", "1.782 → 1.5081e-10 after 20 iterations")
    assert cells[-1] == ("stopped", result.reason)
    svg = root.find("{http://www.w3.org/2000/svg}svg")
    line = svg.find("{http://www.w3.org/2000/svg}polyline")
    points = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
    assert len(points) == 21 and points[0] == (64.0, 8.0) and points[-1] == (352.0, 140.0)
    # J falls geometrically by 0.56^2 a step: a straight line on the log scale
    assert np.allclose(np.diff([y for _, y in points]), 132 / 20, atol=0.06)
    assert "J (log scale)" in html


def test_a_network_displays_its_forward_equations() -> None:
    latex = load(DERIVATIONS / "small_mlp.toml")._repr_latex_()
    assert latex.startswith(r"$\displaystyle\begin{aligned}z^{(1)}_{1} &= w^{(1)}_{1,1} x_{1} "
                            r"+ w^{(1)}_{1,2} x_{2} + b^{(1)}_{1} \\ ")
    assert latex.count(r" \\ ") == 10  # between 11 rows: 5 z and 5 a equations, then E
    assert latex.endswith(r"\end{aligned}$")
