"""Gradient descent (symgrad.train): the source's examples with their numbers, the three
modes against an independent loop, stopping rules, divergence, history and bad settings.

linear_cost.toml: J(w) = sum (z - w x)^2 over x = 0.1..0.5 and z = 2x, so
dJ/dw = 2 (sum x^2) (w - 2) = 1.1 (w - 2), and an update with learning rate r multiplies
w - 2 by 1 - 1.1 r: 0.56 for r = 0.4; the iteration is stable for r < 2 / 1.1.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import symgrad
from symgrad.errors import (ArgumentError, DivergenceError, FileError, SpecError,
                            UnknownNameError)
from symgrad.network import Dense, Network, load
from symgrad.spec import parse_spec
from symgrad.train import GROWTH_STEPS, Step, TrainingResult, train, write_history_csv

from .conftest import DERIVATIONS

X = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
Z = 2 * X
SLOPE = 2 * float(np.sum(X ** 2))  # 1.1: dJ/dw = SLOPE (w - 2)


@pytest.fixture(scope="module")
def linear() -> tuple[Network, object]:
    net = load(DERIVATIONS / "linear_cost.toml")
    return net, symgrad.compile(symgrad.derive(net))


@pytest.fixture(scope="module")
def two() -> tuple[Network, object]:
    net = load(DERIVATIONS / "two_neuron.toml")
    return net, symgrad.compile(symgrad.derive(net))


@pytest.fixture(scope="module")
def mlp() -> tuple[Network, object]:
    net = load(DERIVATIONS / "small_mlp.toml")
    return net, symgrad.compile(symgrad.derive(net))


def _iterations_to_reach(history: list[Step], target: float, eps: float) -> int | None:
    return next((s.iteration for s in history if abs(s.params["w"] - target) < eps), None)


# -- linear_cost: the source's first example ---------------------------------------------


def test_slope_of_the_example_is_1_1() -> None:
    assert SLOPE == pytest.approx(1.1, rel=1e-15)


def test_linear_cost_from_0_2_with_rate_0_4_approaches_2_by_a_factor_0_56(linear) -> None:
    net, f = linear
    result = train(net, progress=False, compiled=f)  # the spec: w0 = 0.2, rate 0.4, 30 its
    ws = [s.params["w"] for s in result.history]
    assert len(ws) == 31 and ws[0] == 0.2
    for k, w in enumerate(ws):
        assert w - 2 == pytest.approx(-1.8 * 0.56 ** k, rel=1e-9, abs=1e-15)
    steps = np.diff(ws)
    assert np.all(steps > 0)  # always towards 2, never past it
    assert np.all(np.diff(steps) < 0)  # each step smaller than the last
    assert steps[0] == pytest.approx(0.792, rel=1e-12)  # -0.4 * 1.1 * (0.2 - 2)
    assert steps[1] / steps[0] == pytest.approx(0.56, rel=1e-12)
    losses = [s.loss for s in result.history]
    assert np.all(np.diff(losses) < 0)
    assert losses[0] == pytest.approx(0.55 * 1.8 ** 2, rel=1e-14)
    assert result.params["w"] == pytest.approx(2 - 1.8 * 0.56 ** 30, rel=1e-14)
    assert not result.converged
    assert result.reason == ("stopped after 30 iterations; the gradient norm 5.52e-08 is above "
                             "the tolerance 1e-09")


def test_linear_cost_history_matches_a_hand_written_loop(linear) -> None:
    net, f = linear
    result = train(net, iterations=30, progress=False, compiled=f)
    w = 0.2
    for step in result.history:
        loss = float(np.sum((Z - w * X) ** 2))
        grad = float(np.sum(-2 * X * (Z - w * X)))
        assert step.params["w"] == pytest.approx(w, rel=1e-14)
        assert step.loss == pytest.approx(loss, rel=1e-12, abs=1e-25)
        assert step.grads["w"] == pytest.approx(grad, rel=1e-10, abs=1e-20)
        w -= 0.4 * grad


#: learning rate -> iterations until |w - 2| < 1e-6 from w0 = 0.2: the smallest k with
#: 1.8 |1 - 1.1 r|^k < 1e-6. 0.9 is near 1 / 1.1 (one step would land on 2).
RATES = {0.01: 1303, 0.1: 124, 0.4: 25, 0.9: 4, 1.0: 7, 1.7: 104, 1.8: 713}


@pytest.mark.parametrize("rate,expected", RATES.items(), ids=[f"r={r}" for r in RATES])
def test_iterations_to_reach_2_within_1e_6(linear, rate: float, expected: int) -> None:
    net, f = linear
    result = train(net, learning_rate=rate, iterations=expected + 5, tolerance=0,
                   progress=False, compiled=f)
    assert _iterations_to_reach(result.history, 2.0, 1e-6) == expected
    factor = abs(1 - SLOPE * rate)
    assert expected == math.ceil(math.log(1e-6 / 1.8) / math.log(factor))


def test_a_very_small_rate_is_slow(linear) -> None:
    net, f = linear
    result = train(net, learning_rate=0.01, iterations=100, progress=False, compiled=f)
    assert abs(result.params["w"] - 2) == pytest.approx(1.8 * 0.989 ** 100, rel=1e-10)
    assert abs(result.params["w"] - 2) > 0.5  # still far after 100 iterations


def test_rate_just_below_the_stability_limit_oscillates_and_converges(linear) -> None:
    net, f = linear
    limit = 2 / SLOPE
    assert limit == pytest.approx(1.8181818181818181, rel=1e-15)
    result = train(net, learning_rate=0.99 * limit, iterations=2000, tolerance=1e-8,
                   progress=False, compiled=f)
    signs = [np.sign(s.params["w"] - 2) for s in result.history[:6]]
    assert signs == [-1, 1, -1, 1, -1, 1]  # overshoots 2 every time, by less and less
    assert result.converged and abs(result.params["w"] - 2) < 1e-8


@pytest.mark.parametrize("rate", [1.85, 2.0, 5.0])
def test_rate_past_the_stability_limit_diverges_at_iteration_3(linear, rate: float) -> None:
    net, f = linear
    with pytest.raises(DivergenceError) as info:
        train(net, learning_rate=rate, iterations=100, progress=False, compiled=f)
    growth = (1 - SLOPE * rate) ** 2
    loss3 = 0.55 * 1.8 ** 2 * growth ** 3
    assert str(info.value) == (f"diverged at iteration {GROWTH_STEPS}: the loss grew from 1.782 "
                               f"at iteration 0 to {loss3:.6g}; try a smaller learning rate")
    assert info.value.iteration == 3
    history = info.value.history
    assert [s.iteration for s in history] == [0, 1, 2, 3]
    assert all(math.isfinite(s.loss) for s in history)


def test_rate_2_message_is_the_documented_one(linear) -> None:
    net, f = linear
    with pytest.raises(DivergenceError, match=r"^diverged at iteration 3: the loss grew from "
                       r"1\.782 at iteration 0 to 5\.32102; try a smaller learning rate$"):
        train(net, learning_rate=2, progress=False, compiled=f)


def test_a_growing_loss_below_its_start_is_not_divergence() -> None:
    """Three rises in a row that stay under the starting loss do not stop the run."""
    history = [Step(k, {"w": 0.0}, loss, {"w": 1.0})
               for k, loss in enumerate([10.0, 1.0, 2.0, 3.0, 4.0])]
    from symgrad.train.loop import _growing

    assert _growing(history) is None
    history.append(Step(5, {"w": 0.0}, 11.0, {"w": 1.0}))
    assert str(_growing(history)) == ("diverged at iteration 5: the loss grew from 1 at "
                                      "iteration 1 to 11; try a smaller learning rate")


# -- non-finite values: a tiny stand-in for the compiled functions -------------------------


class _Square:
    """``J = w^2`` (gradient ``2 w``), whose evaluation fails as ``failure`` says once
    ``|w| > 1e4``: a stand-in for compiled functions that overflow."""

    parameters = ("w",)
    data_names = ("x", "z")

    def __init__(self, failure: str) -> None:
        self.failure = failure

    def value_and_grad(self, **values: object) -> tuple[float, dict[str, float]]:
        w = float(values["w"])  # type: ignore[arg-type]
        if abs(w) <= 1e4:
            return w * w, {"w": 2 * w}
        if self.failure == "overflow":
            raise OverflowError("math range error")
        if self.failure in ("math domain error", "bad shape"):
            raise ValueError(self.failure)
        if self.failure == "nan-grad":
            return w * w, {"w": math.nan}
        return math.inf, {"w": math.inf}


@pytest.mark.parametrize("failure,why", [
    ("overflow", "the loss became nan (it was 1.8225e+06 at iteration 1)"),
    ("math domain error", "the loss became nan (it was 1.8225e+06 at iteration 1)"),
    ("inf", "the loss grew from 1.8225e+06 at iteration 1 to inf"),
    ("nan-grad", "the gradient dJ/dw became nan (the loss was 1.8225e+06 at iteration 1)"),
])
def test_non_finite_loss_or_gradient_stops_with_the_iteration(linear, failure: str,
                                                               why: str) -> None:
    net, _ = linear
    # w <- w (1 - 2 * 15.5): 45, -1350, 40500 (where the evaluation fails)
    with pytest.raises(DivergenceError) as info:
        train(net, learning_rate=15.5, params={"w": 45.0}, iterations=10, progress=False,
              compiled=_Square(failure))
    assert str(info.value) == f"diverged at iteration 2: {why}; try a smaller learning rate"
    assert info.value.iteration == 2
    assert [s.loss for s in info.value.history] == [2025.0, 1822500.0]


def test_other_errors_of_the_compiled_code_are_not_taken_for_divergence(linear) -> None:
    net, _ = linear
    with pytest.raises(ValueError, match="^bad shape$"):
        train(net, learning_rate=15.5, params={"w": 45.0}, progress=False,
              compiled=_Square("bad shape"))


def test_non_finite_at_the_start_is_bad_input(linear) -> None:
    net, _ = linear
    with pytest.raises(ArgumentError, match=r"^the loss or its gradient is not finite at the "
                                            r"starting parameters \(the loss is nan\)$"):
        train(net, params={"w": 2e4}, progress=False, compiled=_Square("overflow"))


# -- two_neuron: the source's second example ------------------------------------------------


GRADIENTS = {"w1": 0.0010213959, "b1": 0.0102139588, "w2": 0.0570703982, "b2": 0.0947562810}


def test_two_neuron_one_iteration_gradients_and_updates(two) -> None:
    net, f = two
    result = train(net, progress=False, compiled=f)  # the spec: one iteration, rate 0.4
    assert result.iterations == 1 and result.learning_rate == 0.4
    start, end = result.history
    assert start.params == {"w1": 0.15, "b1": 0.4, "w2": 0.45, "b2": 0.65}
    for name, value in GRADIENTS.items():
        assert start.grads[name] == pytest.approx(value, abs=1e-9)
        assert end.params[name] == pytest.approx(start.params[name] - 0.4 * value, abs=1e-9)
    assert end.params["w2"] == pytest.approx(0.45 - 0.4 * 0.0570703982, abs=1e-9)
    assert end.loss < start.loss


def test_two_neuron_gradients_agree_with_evalf_and_central_differences(two) -> None:
    net, f = two
    start = train(net, progress=False, compiled=f).history[0]
    exact = symgrad.derive(net).at(net.values)
    data = {"x1": 0.1, "T": 0.25}
    for name, g in start.grads.items():
        assert g == pytest.approx(exact[name], rel=1e-12)
        h = 1e-6
        up = f.loss(**{**start.params, name: start.params[name] + h}, **data)
        down = f.loss(**{**start.params, name: start.params[name] - h}, **data)
        assert g == pytest.approx((up - down) / (2 * h), rel=1e-7, abs=1e-12)


def _hand_backprop(p: dict[str, float], x: float, t: float) -> tuple[float, dict[str, float]]:
    """The two-neuron network's loss and gradients, written out by hand."""
    a1 = 1 / (1 + math.exp(-(p["w1"] * x + p["b1"])))
    a2 = 1 / (1 + math.exp(-(p["w2"] * a1 + p["b2"])))
    d2 = (a2 - t) * a2 * (1 - a2)
    d1 = d2 * p["w2"] * a1 * (1 - a1)
    return 0.5 * (t - a2) ** 2, {"w1": d1 * x, "b1": d1, "w2": d2 * a1, "b2": d2}


def test_two_neuron_fifty_iterations_match_hand_written_backprop(two) -> None:
    net, f = two
    result = train(net, iterations=50, progress=False, compiled=f)
    params = dict(result.history[0].params)
    for step in result.history:
        loss, grads = _hand_backprop(params, 0.1, 0.25)
        assert step.loss == pytest.approx(loss, rel=1e-12)
        for name in params:
            assert step.params[name] == pytest.approx(params[name], rel=1e-12)
            assert step.grads[name] == pytest.approx(grads[name], rel=1e-10)
        params = {n: v - 0.4 * grads[n] for n, v in params.items()}
    assert all(b.loss < a.loss for a, b in zip(result.history, result.history[1:]))


def test_batch_mode_updates_are_exactly_rate_times_gradient(mlp) -> None:
    net, f = mlp
    result = train(net, iterations=5, progress=False, compiled=f)
    for before, after in zip(result.history, result.history[1:]):
        for name, value in before.params.items():
            assert after.params[name] == value - 0.5 * before.grads[name]


# -- modes --------------------------------------------------------------------------------


def _hand_sgd(rate: float, size: int, updates: int, seed: int) -> list[float]:
    """Minibatch descent on linear_cost with the documented batch order."""
    rng = np.random.default_rng(seed)
    w, ws, order = 0.2, [0.2], []
    while len(ws) <= updates:
        if not order:
            perm = rng.permutation(5)
            order = [perm[i:i + size] for i in range(0, 5, size)]
        batch = order.pop(0)
        w -= rate * float(np.sum(-2 * X[batch] * (Z[batch] - w * X[batch])))
        ws.append(w)
    return ws


@pytest.mark.parametrize("mode,size", [("minibatch", 2), ("minibatch", 3), ("stochastic", 1)])
def test_minibatch_and_stochastic_follow_a_seeded_shuffle(linear, mode: str, size: int) -> None:
    net, f = linear
    kwargs = {"batch_size": size} if mode == "minibatch" else {}
    result = train(net, mode=mode, iterations=12, seed=4, progress=False, compiled=f, **kwargs)
    ws = [s.params["w"] for s in result.history]
    assert ws == pytest.approx(_hand_sgd(0.4, size, 12, 4), rel=1e-13)
    assert result.batch_size == size and result.mode == mode
    # the history holds the whole-data loss and gradient at each point
    for s in result.history:
        assert s.grads["w"] == pytest.approx(SLOPE * (s.params["w"] - 2), rel=1e-9, abs=1e-15)
    again = train(net, mode=mode, iterations=12, seed=4, progress=False, compiled=f, **kwargs)
    other = train(net, mode=mode, iterations=12, seed=5, progress=False, compiled=f, **kwargs)
    assert [s.params for s in again.history] == [s.params for s in result.history]
    assert [s.params for s in other.history] != [s.params for s in result.history]


def test_epochs_count_passes_over_the_data(linear) -> None:
    net, f = linear
    result = train(net, mode="minibatch", batch_size=2, epochs=3, progress=False, compiled=f)
    assert result.iterations == 9  # 3 batches (2, 2, 1) per epoch
    assert result.reason.startswith("stopped after 3 epochs (9 iterations);")
    batch = train(net, epochs=3, progress=False, compiled=f)
    assert batch.iterations == 3


def test_stochastic_descent_reaches_the_minimum(mlp) -> None:
    net, f = mlp
    result = train(net, mode="stochastic", epochs=60, learning_rate=0.2, progress=False,
                   compiled=f)
    assert result.loss < 0.05 < result.history[0].loss


# -- stopping on tolerance, initialization, history -----------------------------------------


def test_tolerance_stops_on_the_gradient_norm(linear) -> None:
    net, f = linear
    result = train(net, tolerance=1e-3, progress=False, compiled=f)
    expected = next(k for k in range(100) if SLOPE * 1.8 * 0.56 ** k <= 1e-3)
    assert expected == 14
    assert result.converged and result.iterations == 14
    assert result.history[-1].grad_norm <= 1e-3 < result.history[-2].grad_norm
    assert result.reason == ("converged at iteration 14: the gradient norm 0.000591 is at most "
                             "the tolerance 0.001")


def test_gradient_norm_is_euclidean_over_all_parameters() -> None:
    assert Step(0, {}, 0.0, {"a": 3.0, "b": -4.0}).grad_norm == 5.0


def test_seed_draws_the_initial_parameters_only_when_the_spec_gives_none(mlp, two) -> None:
    net, f = mlp
    assert net.seeded
    default = train(net, iterations=1, progress=False, compiled=f)
    assert default.history[0].params == net.initial_parameters(7)  # the spec's seed
    reseeded = train(net, iterations=1, seed=3, progress=False, compiled=f)
    assert reseeded.history[0].params == net.initial_parameters(3)
    assert reseeded.history[0].params != default.history[0].params
    net2, f2 = two
    kept = train(net2, seed=3, progress=False, compiled=f2)
    assert kept.history[0].params == {"w1": 0.15, "b1": 0.4, "w2": 0.45, "b2": 0.65}


def test_params_override_the_start(two) -> None:
    net, f = two
    result = train(net, params={"w2": 1.0}, progress=False, compiled=f)
    assert result.history[0].params == {"w1": 0.15, "b1": 0.4, "w2": 1.0, "b2": 0.65}


def test_history_csv_round_trips(linear, tmp_path: Path) -> None:
    net, f = linear
    result = train(net, iterations=3, progress=False, compiled=f)
    path = tmp_path / "h.csv"
    result.to_csv(path)
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["iteration", "loss", "w", "dJ/dw"]
    assert len(rows) == 5
    for row, step in zip(rows[1:], result.history):
        assert [int(row[0]), float(row[1]), float(row[2]), float(row[3])] == \
            [step.iteration, step.loss, step.params["w"], step.grads["w"]]
    assert [p.name for p in tmp_path.iterdir()] == ["h.csv"]


def test_history_csv_to_a_missing_directory_fails_and_writes_nothing(tmp_path: Path) -> None:
    history = [Step(0, {"w1": 1.0}, 2.0, {"w1": 3.0})]
    target = tmp_path / "missing" / "h.csv"
    with pytest.raises(FileError) as info:
        write_history_csv(history, target, "E")
    assert str(info.value) == f"{target}: cannot write the history: No such file or directory"
    assert info.value.path == str(target)
    assert list(tmp_path.iterdir()) == []


def test_result_exposes_final_values(two) -> None:
    net, f = two
    result = train(net, iterations=2, progress=False, compiled=f)
    assert isinstance(result, TrainingResult)
    assert result.params == result.history[-1].params and result.loss == result.history[-1].loss
    assert result.samples == 1 and result.loss_symbol == "E"


def test_progress_bar_only_on_a_terminal_or_on_request(two, capsys, monkeypatch) -> None:
    net, f = two
    monkeypatch.setattr(sys.modules["symgrad.train.loop"], "_PROGRESS_DELAY", 0)
    train(net, iterations=200, compiled=f)  # progress=None: stderr is not a terminal here
    assert capsys.readouterr().err == ""
    train(net, iterations=200, progress=True, compiled=f)
    assert "training:   0%|" in capsys.readouterr().err  # cleared again when done


def test_public_api() -> None:
    # symgrad.train is the package, callable as its function (as symgrad.report is)
    assert symgrad.train.train is train and symgrad.TrainingResult is TrainingResult
    net = symgrad.load(DERIVATIONS / "linear_cost.toml")
    assert symgrad.train(net, iterations=2).history == train(net, iterations=2).history


# -- bad settings -----------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,message", [
    ({"learning_rate": 0}, "learning_rate must be a positive finite number, got 0"),
    ({"learning_rate": -0.1}, "learning_rate must be a positive finite number, got -0.1"),
    ({"learning_rate": math.nan}, "learning_rate must be a positive finite number, got nan"),
    ({"learning_rate": "0.1"}, "learning_rate must be a number, got '0.1'"),
    ({"iterations": 0}, "iterations must be an integer of at least 1, got 0"),
    ({"iterations": 2.5}, "iterations must be an integer of at least 1, got 2.5"),
    ({"epochs": True}, "epochs must be an integer of at least 1, got True"),
    ({"iterations": 3, "epochs": 3}, "give iterations or epochs, not both"),
    ({"tolerance": -1e-3}, "tolerance must be a non-negative finite number, got -0.001"),
    ({"seed": -1}, "seed must be an integer of at least 0, got -1"),
    ({"mode": "minibatch"}, "mode 'minibatch' needs a batch_size"),
    ({"batch_size": 2}, "batch_size=2 needs mode 'minibatch' (the mode is 'batch')"),
    ({"mode": "minibatch", "batch_size": 6},
     "batch_size 6 is larger than the number of samples (5)"),
    ({"params": {"w": math.inf}}, "params['w'] must be a finite number, got inf"),
])
def test_bad_settings_are_named(linear, kwargs: dict, message: str) -> None:
    net, f = linear
    with pytest.raises(ArgumentError) as info:
        train(net, progress=False, compiled=f, **kwargs)
    assert str(info.value) == message


def test_unknown_mode_and_parameter_list_the_known_ones(linear) -> None:
    net, f = linear
    with pytest.raises(UnknownNameError, match=r"^unknown training mode 'full'; known: batch, "
                                               r"minibatch, stochastic$"):
        train(net, mode="full", compiled=f)
    with pytest.raises(UnknownNameError, match=r"^unknown parameter 'v'; known: w$"):
        train(net, params={"v": 1.0}, compiled=f)


def test_a_network_without_data_cannot_be_trained() -> None:
    net = Network(1, [Dense(1, "sigmoid")], "half_sse", parameters={"w": 1.0, "b": 0.0})
    with pytest.raises(ArgumentError, match=r"^no value for 'x': training needs every input "
                                            r"and target \(\[data\] in the spec\)$"):
        train(net, learning_rate=0.1)


def test_no_learning_rate_anywhere_is_an_error() -> None:
    net = Network(1, [Dense(1, "sigmoid")], "half_sse", data={"x": 1.0, "T": 0.5})
    with pytest.raises(ArgumentError, match=r"^no learning rate: set learning_rate in the "
                                            r"spec's \[training\] table or pass learning_rate$"):
        train(net)


def test_spec_with_both_iterations_and_epochs_names_the_field() -> None:
    text = (DERIVATIONS / "two_neuron.toml").read_text() + "epochs = 2\n"
    net = Network.from_spec(parse_spec(text, "both.toml"))
    with pytest.raises(SpecError, match=r"^both\.toml:\d+: field 'training\.epochs': give "
                                        r"iterations or epochs, not both$"):
        train(net)
