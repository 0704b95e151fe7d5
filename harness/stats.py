"""The few statistics the reports and the model-version diff rely on.

Every function here answers one question a user asks of a run or a diff ("how sure are we of
this pass rate?", "is this regression real or noise?", "how slow is the tail?") and is checked in
tests/test_stats.py against scipy/statsmodels on the same data.  They run over runs of 100,000
records, so the hot ones are vectorised with numpy; the scalar ones are plain float arithmetic.

Undefined answers (no data) are NaN or None, never 0: the renderers show them as "n/a".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "mcnemar_exact",
    "mean_pass_at_k",
    "paired_bootstrap",
    "pass_at_k",
    "percentiles",
    "wilson_interval",
]

# Numbers where None means "unknown": lists, numpy arrays, pandas Series, generators.
Values = Iterable[float | None] | NDArray[Any]

# Bytes of scratch memory the index-resampling bootstrap may use per batch of resamples.
_BOOTSTRAP_BATCH_BYTES = 64 * 2**20
# Resampling the k distinct differences costs ~90 ns per distinct value per resample, resampling
# indices ~3.5 ns per case; measured break-even (n = 100,000) is near k = n / 25.
_MULTINOMIAL_MAX_RATIO = 32


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a pass rate.

    Wilson rather than the normal approximation because golden sets are small and pass rates sit
    near 0 or 1, where the normal interval collapses to a point or leaves [0, 1].  Same formula
    and clipping as ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.

    ``n == 0`` has no pass rate at all, so the interval is ``(nan, nan)`` rather than an
    exception: a report with an empty category shows "n/a" instead of failing.
    """
    _check_confidence(confidence)
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (math.nan, math.nan)
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    z2 = z * z
    p = successes / n
    denom = 1.0 + z2 / n
    center = (p + z2 / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    # The bounds are exactly 0 at no successes and 1 at all successes; the formula can miss by
    # an ulp (statsmodels returns 2.8e-17 for 0/10), which would put p outside its own interval.
    low = 0.0 if successes == 0 else min(max(center - half, 0.0), 1.0)
    high = 1.0 if successes == n else min(max(center + half, 0.0), 1.0)
    return (low, high)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs of a paired comparison.

    ``b`` counts cases that went pass -> fail, ``c`` fail -> pass.  Cases that did not change say
    nothing about which model is better, so only ``b + c`` matter: under "no difference" each
    changed case is a fair coin.  The exact binomial test instead of the chi-square version
    because a diff often has only a handful of changed cases.  Equals statsmodels'
    ``mcnemar(table, exact=True).pvalue`` (``min(1, 2 * Binom(b+c, 1/2).cdf(min(b, c)))``),
    which for p = 1/2 is also ``scipy.stats.binomtest``'s two-sided p-value.

    No changed case (``b + c == 0``) is no evidence of a difference: 1.0.
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    if b + c == 0:
        return 1.0
    # Imported here: scipy.stats costs ~0.8 s to import and only the diff needs it.
    from scipy.stats import binom  # type: ignore[import-untyped, unused-ignore]

    return float(min(1.0, 2.0 * float(binom.cdf(min(b, c), b + c, 0.5))))


def _as_floats(values: Values) -> NDArray[np.float64]:
    if not isinstance(values, Sequence) and not hasattr(values, "__array__"):
        values = list(values)  # a generator: numpy would wrap it as a single object
    # dtype=float64 turns None into NaN (also in object arrays), which callers drop.
    return np.asarray(values, dtype=np.float64).ravel()


def _paired_differences(
    base: Values, cand: Values
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = _as_floats(base)
    y = _as_floats(cand)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} != {y.size}")
    known = np.isfinite(x) & np.isfinite(y)
    if not known.all():
        x, y = x[known], y[known]
    return x, y


def paired_bootstrap(
    base: Values,
    cand: Values,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(delta, low, high)`` for ``delta = mean(cand) - mean(base)`` over the same cases.

    Percentile bootstrap over case indices, resampling (base, cand) pairs jointly: the two runs
    answered the same prompts, and keeping the pairs removes the per-case difficulty from the
    noise, so the interval is much narrower than one from two independent samples.
    ``base[i]`` and ``cand[i]`` must be the same case.  A pair with None, NaN (or inf) on either
    side is dropped: an unknown value is not zero.

    Implemented in numpy rather than with ``scipy.stats.bootstrap(..., paired=True)``, which
    draws the same distribution but took 10-18 s for 100,000 pairs.  The statistic is the mean of
    the per-case differences, and drawing n indices with replacement gives each *distinct*
    difference a multinomial count, so when there are few distinct differences (pass/fail,
    check scores) one multinomial draw per resample replaces n gathers: milliseconds instead
    of seconds, the same distribution.  Many distinct values (latencies) fall back to
    resampling indices in batches of bounded memory.  Results depend on ``seed`` only.

    No pairs: ``(nan, nan, nan)``.  All differences equal: the interval is the point.
    """
    _check_confidence(confidence)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    x, y = _paired_differences(base, cand)
    n = x.size
    if n == 0:
        return (math.nan, math.nan, math.nan)
    delta = float(y.mean() - x.mean())
    d = y - x
    values, counts = np.unique(d, return_counts=True)
    # Differences that are equal but for the rounding of the inputs (0.35 - 0.1 vs 0.55 - 0.3)
    # count as identical: every resample has the same mean, the interval is the point.
    scale = max(float(np.abs(x).max()), float(np.abs(y).max()))
    if values[-1] - values[0] <= 4.0 * np.finfo(np.float64).eps * scale:
        return (delta, delta, delta)

    rng = np.random.default_rng(seed)
    if values.size * _MULTINOMIAL_MAX_RATIO <= n:
        draws = rng.multinomial(n, counts / n, size=n_resamples)
        theta = (draws @ values) / n
    else:
        theta = np.empty(n_resamples, dtype=np.float64)
        batch = max(1, _BOOTSTRAP_BATCH_BYTES // (16 * n))
        for start in range(0, n_resamples, batch):
            stop = min(start + batch, n_resamples)
            idx = rng.integers(0, n, size=(stop - start, n))
            theta[start:stop] = d[idx].mean(axis=1)

    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(theta, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return (delta, float(low), float(high))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` passed: ``1 - C(n-c, k) / C(n, k)``.

    The chance that at least one of k samples drawn without replacement from the n passes;
    ``1 - (c/n)**k``-style plug-ins are biased.  The ratio of binomials is the product form of
    Chen et al. 2021 (Codex paper), which never forms the huge binomials.  ``n < k`` cannot
    be estimated and raises ``ValueError``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples, got n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def mean_pass_at_k(pairs: Iterable[tuple[int, int]], k: int) -> float:
    """Mean pass@k over cases, each given as ``(n, c)``; NaN when there are no cases.

    A suite run with a fixed number of repeats has at most ``repeats + 1`` distinct ``(n, c)``
    pairs, so each distinct pair is computed once however many cases there are.
    """
    tally = Counter(pairs)
    total = sum(tally.values())
    if total == 0:
        return math.nan
    return math.fsum(pass_at_k(n, c, k) * m for (n, c), m in tally.items()) / total


def percentiles(values: Values, qs: Sequence[float] = (50, 95, 99)) -> dict[str, float | None]:
    """Latency/TTFT/token percentiles over the known values, keyed ``"p50"``, ``"p95"``, ...

    None and NaN are skipped, not counted as 0: a non-streamed request has no TTFT and a
    server without usage has no token count, and zeros would drag every percentile down.  With
    no known value every percentile is None ("n/a").  ``numpy.percentile`` with its default
    linear interpolation (Hyndman & Fan type 7, as in pandas and Excel's PERCENTILE.INC).
    """
    arr = _as_floats(values)
    arr = arr[~np.isnan(arr)]
    keys = [f"p{q:g}" for q in qs]
    if arr.size == 0:
        return dict.fromkeys(keys)
    got = np.percentile(arr, list(qs))
    return {key: float(v) for key, v in zip(keys, got, strict=True)}
