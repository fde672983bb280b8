"""The digits data set: split, standardization with training statistics, options checked
against the spec, and a clear message without scikit-learn."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from symgrad.datasets import EXTRA_HINT, load_dataset, load_digits
from symgrad.errors import MissingDependencyError, SpecError
from symgrad.spec import parse_spec

NETWORK = ('[network]\ninputs = 64\nlayers = [{ units = 10, activation = "softmax" }]\n'
           'loss = "cce"\n')


def _spec(data: str) -> object:
    return parse_spec(NETWORK + "[data]\n" + data, path="d.toml")


def test_split_sizes_and_one_hot_targets() -> None:
    d = load_digits()
    assert d.x_train.shape == (1348, 64) and d.x_test.shape == (449, 64)
    assert d.y_train.shape == (1348, 10) and d.y_test.shape == (449, 10)
    np.testing.assert_array_equal(d.y_train.sum(axis=1), np.ones(1348))
    np.testing.assert_array_equal(d.y_train.argmax(axis=1), d.labels_train)
    assert sorted(set(d.labels_test.tolist())) == list(range(10))


def test_standardized_with_training_statistics_only() -> None:
    d = load_digits()
    np.testing.assert_allclose(d.x_train.mean(axis=0), 0.0, atol=1e-12)
    std = d.x_train.std(axis=0)
    constant = d.scale == 1.0
    np.testing.assert_allclose(std[~constant], 1.0, rtol=1e-12)
    np.testing.assert_array_equal(std[constant], 0.0)  # blank pixels stay 0, no division by 0
    raw = load_digits(standardize=False)
    np.testing.assert_allclose(raw.x_test * 1.0, d.x_test * d.scale + d.mean, atol=1e-12)
    assert raw.x_train.max() == 16.0


def test_the_split_is_fixed_by_its_seed() -> None:
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    np.testing.assert_array_equal(a.labels_test, b.labels_test)
    assert not np.array_equal(a.labels_test, c.labels_test)
    assert len(load_digits(test_fraction=0.1).x_test) == 180


def test_options_from_the_spec() -> None:
    d = load_dataset(_spec('source = "digits"\ntest_fraction = 0.5\nstandardize = false\n'
                           'seed = 4\n'))
    assert d.x_test.shape == (898, 64)  # round(1797 / 2)
    assert d.x_train.max() == 16.0


@pytest.mark.parametrize("data, message", [
    ('source = "mnist"\n', "d.toml:6: field 'data.source': unknown data set 'mnist'; known: digits, bit_counts"),
    ('source = "digits"\nshuffle = true\n',
     "d.toml:7: field 'data.shuffle': unknown option of source 'digits'; expected one of: "
     "test_fraction, standardize, seed"),
    ('source = "digits"\ntest_fraction = 1.0\n',
     "d.toml:7: field 'data.test_fraction': must be a number strictly between 0 and 1, got 1.0"),
    ('source = "digits"\nstandardize = "yes"\n',
     "d.toml:7: field 'data.standardize': expected true or false, got 'yes'"),
    ('source = "digits"\nseed = -1\n',
     "d.toml:7: field 'data.seed': expected an integer >= 0, got -1"),
], ids=["source", "option", "fraction", "standardize", "seed"])
def test_bad_options_name_the_field(data: str, message: str) -> None:
    with pytest.raises(SpecError) as exc:
        load_dataset(_spec(data))
    assert str(exc.value) == message


def test_a_spec_without_a_source() -> None:
    with pytest.raises(SpecError, match=r"^d.toml: field 'data.source': this spec gives no data "
                                        r"set \(no 'source' in \[data\]\)$"):
        load_dataset(parse_spec(NETWORK, path="d.toml"))


def test_without_scikit_learn_the_message_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError) as exc:
        load_digits()
    assert str(exc.value) == ("the digits data set needs scikit-learn, which is not installed; "
                              "install it with: pip install 'symgrad[examples]'")
    assert EXTRA_HINT == "pip install 'symgrad[examples]'"
