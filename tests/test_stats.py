"""harness.stats against scipy/statsmodels on the same data, plus brute force where it is cheap."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from harness import stats
from harness.stats import (
    mcnemar_exact,
    mean_pass_at_k,
    paired_bootstrap,
    pass_at_k,
    percentiles,
    wilson_interval,
)

# ---------------------------------------------------------------------------- Wilson


@pytest.mark.parametrize(
    ("successes", "n"),
    [(0, 1), (1, 1), (0, 10), (10, 10), (7, 10), (1, 3), (50, 100), (99, 100), (1, 100_000),
     (73_412, 100_000), (100_000, 100_000)],
)  # fmt: skip
@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(successes: int, n: int, confidence: float) -> None:
    low, high = wilson_interval(successes, n, confidence)
    exp_low, exp_high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    assert low == pytest.approx(exp_low, rel=1e-12, abs=1e-15)
    assert high == pytest.approx(exp_high, rel=1e-12, abs=1e-15)
    assert 0.0 <= low <= successes / n <= high <= 1.0


def test_wilson_default_confidence_is_95() -> None:
    assert wilson_interval(3, 20) == wilson_interval(3, 20, 0.95)


def test_wilson_all_or_nothing_stays_in_unit_interval() -> None:
    assert wilson_interval(0, 5)[0] == 0.0
    assert wilson_interval(5, 5)[1] == 1.0


def test_wilson_no_cases_is_nan() -> None:
    low, high = wilson_interval(0, 0)
    assert math.isnan(low)
    assert math.isnan(high)


@pytest.mark.parametrize(("successes", "n", "confidence"), [(-1, 5, 0.95), (6, 5, 0.95),
                         (1, -1, 0.95), (1, 5, 0.0), (1, 5, 1.0), (1, 5, 95)])  # fmt: skip
def test_wilson_rejects_bad_input(successes: int, n: int, confidence: float) -> None:
    with pytest.raises(ValueError, match=r"successes|confidence"):
        wilson_interval(successes, n, confidence)


# ---------------------------------------------------------------------------- McNemar


@pytest.mark.parametrize(
    ("b", "c"),
    [(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (3, 7), (7, 3), (10, 2), (5, 5), (0, 25),
     (500, 450), (450, 500), (1000, 1), (5000, 5100)],
)  # fmt: skip
def test_mcnemar_matches_statsmodels_and_scipy(b: int, c: int) -> None:
    p = mcnemar_exact(b, c)
    # a and d (unchanged cases) must not matter.
    for a, d in [(0, 0), (40, 3), (10_000, 7)]:
        assert p == pytest.approx(mcnemar([[a, b], [c, d]], exact=True).pvalue, rel=1e-12)
    if b + c > 0:
        assert p == pytest.approx(sps.binomtest(min(b, c), b + c, 0.5).pvalue, rel=1e-9)
    assert 0.0 < p <= 1.0
    assert mcnemar_exact(c, b) == p  # two-sided: symmetric


def test_mcnemar_edge_values() -> None:
    assert mcnemar_exact(0, 0) == 1.0  # nothing changed: no evidence
    assert mcnemar_exact(1, 0) == 1.0  # one flip can never be significant
    assert mcnemar_exact(4, 4) == 1.0
    assert mcnemar_exact(6, 0) == pytest.approx(2 / 2**6)
    assert isinstance(mcnemar_exact(3, 9), float)


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="discordant"):
        mcnemar_exact(-1, 3)


# ---------------------------------------------------------------------------- pass@k


def _pass_at_k_brute(n: int, c: int, k: int) -> float:
    """Share of k-subsets of the n samples that contain at least one pass."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(samples, k))
    return sum(any(s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_brute_force(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(_pass_at_k_brute(n, c, k), abs=1e-12)


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [(200, 3, 1), (200, 3, 10), (200, 3, 100), (200, 150, 50), (1000, 1, 500), (1000, 17, 100),
     (100, 0, 100), (100, 1, 100)],
)  # fmt: skip
def test_pass_at_k_matches_exact_binomials(n: int, c: int, k: int) -> None:
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12, abs=1e-15)


def test_pass_at_1_is_the_pass_rate() -> None:
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 0, 5) == 0.0
    assert pass_at_k(5, 5, 1) == 1.0
    assert pass_at_k(5, 1, 5) == 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(3, 1, 4), (0, 0, 1), (5, 1, 0), (5, 6, 1), (5, -1, 1)])
def test_pass_at_k_rejects_bad_input(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match=r"k|c|samples"):
        pass_at_k(n, c, k)


def test_mean_pass_at_k() -> None:
    pairs = [(10, 0), (10, 3), (10, 3), (10, 10), (12, 1)]
    expected = sum(_pass_at_k_brute(n, c, 3) for n, c in pairs) / len(pairs)
    assert mean_pass_at_k(pairs, 3) == pytest.approx(expected, abs=1e-12)
    assert mean_pass_at_k(iter(pairs), 3) == pytest.approx(expected, abs=1e-12)
    assert math.isnan(mean_pass_at_k([], 1))
    with pytest.raises(ValueError, match="samples"):
        mean_pass_at_k([(10, 1), (2, 1)], 3)


# ---------------------------------------------------------------------------- percentiles


def test_percentiles_ignore_unknown_values() -> None:
    values = [0.5, None, 1.5, float("nan"), 3.0, None, 0.25, 10.0]
    known = [0.5, 1.5, 3.0, 0.25, 10.0]
    got = percentiles(values)
    assert list(got) == ["p50", "p95", "p99"]
    for q in (50, 95, 99):
        assert got[f"p{q}"] == pytest.approx(float(np.percentile(known, q)))
    # Unknown is not zero: one known value among many unknowns is every percentile.
    assert percentiles([2.0, None, None, None]) == {"p50": 2.0, "p95": 2.0, "p99": 2.0}


def test_percentiles_linear_interpolation() -> None:
    got = percentiles([1, 2, 3, 4], qs=(0, 25, 50, 100))
    assert got == {"p0": 1.0, "p25": 1.75, "p50": 2.5, "p100": 4.0}
    assert percentiles(range(1, 101), qs=(99.9,)) == {"p99.9": pytest.approx(100 - 0.1 * 0.99)}


@pytest.mark.parametrize("values", [[], [None, None], [float("nan")], np.array([np.nan])])
def test_percentiles_without_known_values_are_none(values: object) -> None:
    assert percentiles(values) == {"p50": None, "p95": None, "p99": None}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        list,
        tuple,
        lambda v: (x for x in v),
        lambda v: np.array(v, dtype=float),
        lambda v: np.array(v, dtype=object),
        lambda v: pd.Series(v, dtype=object),
        lambda v: pd.Series(v, dtype=float),
    ],
)
def test_percentiles_accept_containers(make: Callable[[list[float | None]], object]) -> None:
    values: list[float | None] = [3.0, None, 1.0, 2.0, None, 4.0]
    got = percentiles(make(values))  # type: ignore[arg-type]
    assert got == {k: pytest.approx(v) for k, v in percentiles([3.0, 1.0, 2.0, 4.0]).items()}


# ---------------------------------------------------------------------------- paired bootstrap


def _scipy_paired(
    base: np.ndarray, cand: np.ndarray, confidence: float = 0.95, seed: int = 12345
) -> tuple[float, float]:
    def delta(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(y.mean(axis=axis) - x.mean(axis=axis))

    res = sps.bootstrap(
        (base, cand), delta, paired=True, vectorized=True, method="percentile",
        confidence_level=confidence, n_resamples=10_000, random_state=seed,
    )  # fmt: skip
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _binary_pairs(n: int, p_base: float, p_cand: float, seed: int) -> tuple[np.ndarray, ...]:
    """Correlated pass/fail pairs: a shared per-case difficulty, as in a real golden set.

    Each side's outcome is flipped with probability 0.1, so the pass rates are
    ``0.1 + 0.8 * p`` and the true delta is ``0.8 * (p_cand - p_base)``.
    """
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    base = (u < p_base) ^ (rng.random(n) < 0.1)
    cand = (u < p_cand) ^ (rng.random(n) < 0.1)
    return base.astype(float), cand.astype(float)


def _continuous_pairs(n: int, shift: float, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    difficulty = rng.gamma(2.0, 1.0, n)
    return difficulty + rng.normal(0, 0.5, n), difficulty + shift + rng.normal(0, 0.5, n)


def _assert_agrees_with_scipy(base: np.ndarray, cand: np.ndarray, true_delta: float) -> None:
    delta, low, high = paired_bootstrap(base, cand)
    s_low, s_high = _scipy_paired(base, cand)
    assert delta == pytest.approx(cand.mean() - base.mean(), abs=1e-12)
    assert low <= delta <= high
    assert low <= true_delta <= high
    assert s_low <= true_delta <= s_high
    width, s_width = high - low, s_high - s_low
    assert width == pytest.approx(s_width, rel=0.10)
    # Endpoints agree within Monte Carlo error (~1% of the width at 10,000 resamples) plus one
    # lattice step for pass/fail data.
    tol = 0.05 * s_width + 1.0 / base.size
    assert low == pytest.approx(s_low, abs=tol)
    assert high == pytest.approx(s_high, abs=tol)


def test_bootstrap_pass_fail_agrees_with_scipy() -> None:
    base, cand = _binary_pairs(2_000, 0.5, 0.65, seed=1)  # few distinct differences
    _assert_agrees_with_scipy(base, cand, true_delta=0.8 * 0.15)


def test_bootstrap_continuous_agrees_with_scipy() -> None:
    base, cand = _continuous_pairs(400, 0.3, seed=2)  # every difference distinct
    _assert_agrees_with_scipy(base, cand, true_delta=0.3)


def test_bootstrap_no_effect_interval_straddles_zero() -> None:
    base, cand = _binary_pairs(1_000, 0.7, 0.7, seed=3)
    delta, low, high = paired_bootstrap(base, cand)
    assert delta != 0.0  # sampling noise...
    assert low < 0.0 < high  # ...that the interval does not mistake for an effect


@pytest.mark.parametrize("ratio", [0, 10**9])  # force multinomial counts, then index resampling
def test_bootstrap_code_paths_draw_the_same_distribution(
    monkeypatch: pytest.MonkeyPatch, ratio: int
) -> None:
    base, cand = _binary_pairs(800, 0.4, 0.5, seed=4)
    s_low, s_high = _scipy_paired(base, cand)
    monkeypatch.setattr(stats, "_MULTINOMIAL_MAX_RATIO", ratio)
    _, low, high = paired_bootstrap(base, cand, seed=9)
    tol = 0.05 * (s_high - s_low) + 1.0 / base.size
    assert low == pytest.approx(s_low, abs=tol)
    assert high == pytest.approx(s_high, abs=tol)


@pytest.mark.parametrize("confidence", [0.8, 0.99])
def test_bootstrap_confidence_level(confidence: float) -> None:
    base, cand = _continuous_pairs(300, 0.1, seed=5)
    _, low, high = paired_bootstrap(base, cand, confidence=confidence)
    s_low, s_high = _scipy_paired(base, cand, confidence=confidence)
    assert high - low == pytest.approx(s_high - s_low, rel=0.10)
    _, low95, high95 = paired_bootstrap(base, cand)
    assert (high - low < high95 - low95) == (confidence < 0.95)


def test_bootstrap_is_deterministic_per_seed() -> None:
    for base, cand in [_binary_pairs(500, 0.5, 0.6, seed=6), _continuous_pairs(200, 0.2, seed=6)]:
        first = paired_bootstrap(base, cand, seed=7)
        assert paired_bootstrap(base, cand, seed=7) == first
        assert paired_bootstrap(list(base), list(cand), seed=7) == first
        assert paired_bootstrap(base, cand, seed=8) != first


def test_bootstrap_empty_is_nan() -> None:
    cases: list[tuple[stats.Values, stats.Values]] = [
        ([], []),
        ([None, 1.0], [2.0, None]),
        (np.array([np.nan]), [1.0]),
    ]
    for base, cand in cases:
        assert all(math.isnan(v) for v in paired_bootstrap(base, cand))


def test_bootstrap_drops_pairs_with_unknown_side() -> None:
    base = [1.0, None, 0.0, 1.0, float("nan"), 0.0, 1.0, 0.0, float("inf")]
    cand = [1.0, 1.0, 1.0, 0.0, 0.0, None, 1.0, 1.0, 1.0]
    kept_b = [1.0, 0.0, 1.0, 1.0, 0.0]
    kept_c = [1.0, 1.0, 0.0, 1.0, 1.0]
    assert paired_bootstrap(base, cand) == paired_bootstrap(kept_b, kept_c)


@pytest.mark.parametrize(("base", "cand", "delta"), [
    ([1.0, 0.0, 1.0], [1.0, 0.0, 1.0], 0.0),
    ([0.0] * 50, [1.0] * 50, 1.0),
    ([0.1, 0.7, 0.3, 0.9], [0.35, 0.95, 0.55, 1.15], 0.25),
    ([2.5], [1.0], -1.5),
])  # fmt: skip
def test_bootstrap_identical_differences_collapse_to_the_point(
    base: list[float], cand: list[float], delta: float
) -> None:
    got = paired_bootstrap(base, cand)
    assert got[0] == pytest.approx(delta)
    assert got[0] == got[1] == got[2]
    if len(base) > 1:  # scipy agrees that the distribution is degenerate
        s_low, s_high = _scipy_paired(np.array(base), np.array(cand))
        assert s_low == pytest.approx(delta)
        assert s_high == pytest.approx(delta)


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="length"):
        paired_bootstrap([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap([1.0], [1.0], confidence=1.5)
    with pytest.raises(ValueError, match="n_resamples"):
        paired_bootstrap([1.0], [1.0], n_resamples=0)
