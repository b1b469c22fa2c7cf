"""Pairwise precision / recall / F1 of clusters against a truth mapping.

Pairwise scoring counts every pair of records: a pair is predicted when both records share a
cluster, true when both belong to the same real person. Computed from cluster-size products, so
it is exact and linear in the number of records (no pair enumeration).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PairwiseScore:
    records: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def lines(self) -> list[str]:
        return [
            f"records {self.records:,}  true duplicate pairs {self.true_pairs:,}  "
            f"predicted {self.predicted_pairs:,}  correct {self.correct_pairs:,}",
            f"precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}",
        ]


def _pairs(sizes: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


def pairwise_score(clusters: Mapping[str, object], truth: Mapping[str, object]) -> PairwiseScore:
    """Score records present in both mappings (record id → cluster id / true person id)."""
    ids = [i for i in clusters if i in truth]
    predicted = Counter(clusters[i] for i in ids)
    true = Counter(truth[i] for i in ids)
    both = Counter((clusters[i], truth[i]) for i in ids)
    return PairwiseScore(len(ids), _pairs(true), _pairs(predicted), _pairs(both))
