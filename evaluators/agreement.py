"""Agreement between two sets of turn labels (judge vs gold, or annotator vs annotator). Pure functions.

Per dimension: quadratic-weighted kappa, exact and within-1 accuracy on turns both score, and
applicability agreement (both null or both scored); red flags: F1 per flag and micro F1; a
bootstrap confidence interval for the mean kappa.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from pydantic import BaseModel

from evaluators.rubric import Dimension, RedFlag

Labels = dict  # {"scores": {dimension: int | None}, "red_flags": [flag, ...]}


def quadratic_weighted_kappa(a: Sequence[int], b: Sequence[int], levels: int = 4) -> float | None:
    """Cohen's kappa with quadratic weights on a 0..levels-1 scale; None when undefined."""
    n = len(a)
    if n == 0:
        return None
    observed = [[0.0] * levels for _ in range(levels)]
    for x, y in zip(a, b):
        observed[x][y] += 1
    hist_a = [sum(row) for row in observed]
    hist_b = [sum(observed[i][j] for i in range(levels)) for j in range(levels)]
    numerator = denominator = 0.0
    for i in range(levels):
        for j in range(levels):
            weight = (i - j) ** 2 / (levels - 1) ** 2
            numerator += weight * observed[i][j]
            denominator += weight * hist_a[i] * hist_b[j] / n
    if denominator == 0:
        return 1.0 if numerator == 0 else None
    return 1.0 - numerator / denominator


def f1(tp: int, fp: int, fn: int) -> float | None:
    if tp + fp + fn == 0:
        return None
    return 2 * tp / (2 * tp + fp + fn)


class DimensionAgreement(BaseModel):
    both_scored: int
    qwk: float | None
    exact: float | None
    within_one: float | None
    applicability: float


class Agreement(BaseModel):
    items: int
    dimensions: dict[Dimension, DimensionAgreement]
    mean_qwk: float | None
    mean_qwk_ci: tuple[float, float] | None
    red_flag_f1: dict[RedFlag, float | None]
    red_flag_micro_f1: float | None


def _dimension(gold: list[Labels], other: list[Labels], dimension: Dimension) -> DimensionAgreement:
    pairs = [(g["scores"].get(dimension.value), o["scores"].get(dimension.value)) for g, o in zip(gold, other)]
    scored = [(g, o) for g, o in pairs if g is not None and o is not None]
    same_applicability = sum((g is None) == (o is None) for g, o in pairs)
    return DimensionAgreement(
        both_scored=len(scored),
        qwk=quadratic_weighted_kappa([g for g, _ in scored], [o for _, o in scored]),
        exact=sum(g == o for g, o in scored) / len(scored) if scored else None,
        within_one=sum(abs(g - o) <= 1 for g, o in scored) / len(scored) if scored else None,
        applicability=same_applicability / len(pairs) if pairs else 0.0)


def _mean_qwk(gold: list[Labels], other: list[Labels]) -> float | None:
    values = [_dimension(gold, other, d).qwk for d in Dimension]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def agreement(gold: list[Labels], other: list[Labels], bootstrap: int = 1000, seed: int = 13) -> Agreement:
    """Compare `other` to `gold`, item by item (same order)."""
    if len(gold) != len(other):
        raise ValueError(f"{len(gold)} gold items but {len(other)} to compare")
    flags: dict[RedFlag, float | None] = {}
    totals = [0, 0, 0]
    for flag in RedFlag:
        tp = sum(flag.value in g["red_flags"] and flag.value in o["red_flags"] for g, o in zip(gold, other))
        fp = sum(flag.value not in g["red_flags"] and flag.value in o["red_flags"] for g, o in zip(gold, other))
        fn = sum(flag.value in g["red_flags"] and flag.value not in o["red_flags"] for g, o in zip(gold, other))
        flags[flag] = f1(tp, fp, fn)
        totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
    interval = None
    if bootstrap and gold:
        rng = random.Random(seed)
        samples = []
        for _ in range(bootstrap):
            picks = [rng.randrange(len(gold)) for _ in gold]
            value = _mean_qwk([gold[i] for i in picks], [other[i] for i in picks])
            if value is not None:
                samples.append(value)
        samples.sort()
        if samples:
            interval = (samples[int(0.025 * len(samples))], samples[int(0.975 * len(samples)) - 1])
    return Agreement(items=len(gold), dimensions={d: _dimension(gold, other, d) for d in Dimension},
                     mean_qwk=_mean_qwk(gold, other), mean_qwk_ci=interval, red_flag_f1=flags,
                     red_flag_micro_f1=f1(*totals))


def macro_f1(gold: Sequence[int], predicted: Sequence[int]) -> float:
    """Macro-averaged F1 over the classes present in gold or predictions."""
    classes = sorted(set(gold) | set(predicted))
    scores = []
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, predicted))
        fp = sum(g != c and p == c for g, p in zip(gold, predicted))
        fn = sum(g == c and p != c for g, p in zip(gold, predicted))
        scores.append(f1(tp, fp, fn) or 0.0)
    return sum(scores) / len(scores) if scores else 0.0
