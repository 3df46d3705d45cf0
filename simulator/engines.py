"""Which judge and customer an engine name means. Offline is the embedded default: no key, no network."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache

from evaluators.embeddings import EmbeddingUnavailable
from evaluators.judge import Judge
from evaluators.offline import OfflineJudge
from simulator.customer import Customer, OfflineCustomer
from simulator.errors import DataFileError
from simulator.llm import LLMConfig
from simulator.session import TurnEngine

log = logging.getLogger(__name__)
ENGINES = ("offline", "llm")
OFFLINE_JUDGES = ("embedding", "cue")
OFFLINE_LABELS = {
    "embedding": "Offline engine: authored persona lines + embedding judge (MiniLM on this machine, trained heads "
                 "over rubric cues; no network)",
    "cue": "Offline engine: authored persona lines + rule/lexicon cue judge (no network, no model)",
}


class EngineUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Engine:
    name: str
    label: str
    turn: TurnEngine

    @property
    def judge(self) -> Judge:
        return self.turn.judge

    @property
    def customer(self) -> Customer:
        return self.turn.customer

    @property
    def offline_judge(self) -> Judge:
        return self.turn.pre_scorer


def offline_judge_named(name: str | None = None) -> Judge:
    """The offline judge: `embedding` (default) or `cue` (faster, phrases only), else `DEFUSE_OFFLINE_JUDGE`.
    One instance per name and process: judges hold no per-turn state, and the model loads once."""
    return _offline_judge(name or os.environ.get("DEFUSE_OFFLINE_JUDGE", "embedding"))


@lru_cache(maxsize=4)
def _offline_judge(name: str) -> Judge:
    if name == "cue":
        return OfflineJudge()
    if name != "embedding":
        raise EngineUnavailable(f"unknown offline judge '{name}'; choose one of: {', '.join(OFFLINE_JUDGES)}")
    from evaluators.embedding_judge import EmbeddingJudge

    try:
        return EmbeddingJudge()
    except (EmbeddingUnavailable, DataFileError) as exc:
        raise EngineUnavailable(f"the embedding judge cannot start ({exc}); "
                                "or choose the cue judge: DEFUSE_OFFLINE_JUDGE=cue") from exc


@lru_cache(maxsize=16)
def build_engine(name: str = "offline", config: LLMConfig | None = None, offline_judge: str | None = None) -> Engine:
    """The offline engine, or the LLM engine from `config` (default: the environment). The offline judge
    grades offline turns, pre-scores LLM turns (it sets the mood the customer speaks from) and stands in
    for the LLM judge when it fails."""
    chosen = offline_judge or os.environ.get("DEFUSE_OFFLINE_JUDGE")
    try:
        judge_name, offline_judge_, fallback = chosen or "embedding", offline_judge_named(chosen or "embedding"), ""
    except EngineUnavailable as exc:
        if chosen:  # asked for by name: say why it cannot run
            raise
        log.warning("offline judge: %s", exc)
        judge_name, offline_judge_ = "cue", offline_judge_named("cue")
        fallback = f" (the embedding judge is unavailable: {exc.__cause__ or exc})"
    offline_customer = OfflineCustomer()
    if name == "offline":
        return Engine(name, OFFLINE_LABELS[judge_name] + fallback,
                      TurnEngine(offline_judge_, offline_customer, offline_judge_, offline_customer))
    if name != "llm":
        raise EngineUnavailable(f"unknown engine '{name}'; choose one of: {', '.join(ENGINES)}")
    config = config or LLMConfig.from_env()
    if not config.configured:
        raise EngineUnavailable("the LLM engine needs an endpoint: set OPENAI_BASE_URL (any OpenAI-compatible "
                                "server) or OPENAI_API_KEY, or AZURE_OPENAI_ENDPOINT with DEFUSE_LLM_PROVIDER=azure")
    from evaluators.llm_judge import LLMJudge
    from simulator.llm import chat_model
    from simulator.llm_customer import LLMCustomer

    judge = LLMJudge(chat_model(config, "judge"), model_name=config.judge_model, budget_tokens=config.token_budget,
                     method=config.judge_method, merge_system=config.merge_system,
                     filler=getattr(offline_judge_, "filler_among", None))
    customer = LLMCustomer(chat_model(config, "customer"), model_name=config.customer_model,
                           budget_tokens=config.token_budget, fallback=offline_customer,
                           merge_system=config.merge_system)
    label = f"LLM engine: {config.describe()}; any turn the endpoint fails is handled offline, and says so"
    return Engine(name, label, TurnEngine(judge, customer, offline_judge_, offline_customer))
