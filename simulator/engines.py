"""Which judge and customer an engine name means. Offline is the embedded default: no key, no network."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from evaluators.judge import Judge
from evaluators.offline import OfflineJudge
from simulator.customer import Customer, OfflineCustomer
from simulator.llm import LLMConfig
from simulator.session import TurnEngine

ENGINES = ("offline", "llm")
OFFLINE_LABEL = "Offline engine: authored persona lines + rule/lexicon judge (no network, no model)"


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


@lru_cache(maxsize=16)
def build_engine(name: str = "offline", config: LLMConfig | None = None) -> Engine:
    """The offline engine, or the LLM engine from `config` (default: the environment)."""
    offline_judge, offline_customer = OfflineJudge(), OfflineCustomer()
    if name == "offline":
        return Engine(name, OFFLINE_LABEL, TurnEngine(offline_judge, offline_customer, offline_judge, offline_customer))
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
                     method=config.judge_method, merge_system=config.merge_system)
    customer = LLMCustomer(chat_model(config, "customer"), model_name=config.customer_model,
                           budget_tokens=config.token_budget, fallback=offline_customer,
                           merge_system=config.merge_system)
    label = f"LLM engine: {config.describe()}; any turn the endpoint fails is handled offline, and says so"
    return Engine(name, label, TurnEngine(judge, customer, offline_judge, offline_customer))
