"""Which judge and customer a run uses. Offline is the embedded default: no key, no network."""

from __future__ import annotations

from dataclasses import dataclass

from evaluators.judge import Judge
from evaluators.offline import OfflineJudge
from simulator.customer import Customer, OfflineCustomer

ENGINES = ("offline",)
ENGINE_LABELS = {
    "offline": "Offline engine: authored persona lines + rule/lexicon judge (no network, no model)",
}


@dataclass(frozen=True)
class Engine:
    name: str
    label: str
    judge: Judge
    customer: Customer
    fallback_judge: Judge


def build_engine(name: str = "offline") -> Engine:
    if name not in ENGINES:
        raise ValueError(f"unknown engine '{name}'; choose one of: {', '.join(ENGINES)}")
    judge = OfflineJudge()
    return Engine(name=name, label=ENGINE_LABELS[name], judge=judge, customer=OfflineCustomer(), fallback_judge=judge)
