"""Shared fixtures: the shipped dataset and one small cached fit of the full data (tests share it)."""

import warnings

import pytest

warnings.filterwarnings("ignore", category=FutureWarning)

SMALL_FIT = dict(draws=150, tune=150, chains=2, seed=11)


@pytest.fixture(scope="session")
def dataset():
    from model import data

    return data.shipped()


@pytest.fixture(scope="session")
def small_fit(dataset):
    """A short-chain fit of all data (as of 2024-03-31), cached on disk after the first test run."""
    from model.fit import fit

    return fit(dataset, as_of="2024-03-31", **SMALL_FIT)
