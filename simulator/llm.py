"""The only place chat models are built. Everything else receives a chat model object.

Configured, not coded: environment variables (or CLI flags / page settings passed as overrides)
select OpenAI, Azure OpenAI or any OpenAI-compatible server (Ollama, vLLM, llama.cpp).
Building a model makes no network call; the first request does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, SecretStr

Role = Literal["customer", "judge"]

# environment variable -> config field
ENV_FIELDS = {
    "DEFUSE_LLM_PROVIDER": "provider",
    "OPENAI_BASE_URL": "base_url",
    "OPENAI_API_KEY": "api_key",
    "DEFUSE_CUSTOMER_MODEL": "customer_model",
    "DEFUSE_JUDGE_MODEL": "judge_model",
    "DEFUSE_LLM_TIMEOUT": "timeout",
    "DEFUSE_LLM_MAX_RETRIES": "max_retries",
    "DEFUSE_TOKEN_BUDGET": "token_budget",
    "DEFUSE_JUDGE_METHOD": "judge_method",
    "DEFUSE_CUSTOMER_MAX_TOKENS": "customer_max_tokens",
    "DEFUSE_MERGE_SYSTEM": "merge_system",
    "DEFUSE_JUDGE_MAX_TOKENS": "judge_max_tokens",
    "AZURE_OPENAI_ENDPOINT": "azure_endpoint",
    "AZURE_OPENAI_API_KEY": "azure_api_key",
    "OPENAI_API_VERSION": "api_version",
}


class LLMConfig(BaseModel):
    """How to reach the LLM. `from_env` reads the variables in `ENV_FIELDS`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["openai", "azure"] = "openai"
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1")
    api_key: SecretStr | None = None
    customer_model: str = "gpt-4o-mini"
    judge_model: str = "gpt-4o-mini"
    timeout: float = Field(default=60.0, gt=0, description="seconds per request")
    max_retries: int = Field(default=1, ge=0, le=10)
    token_budget: int = Field(default=3000, ge=500, description="prompt tokens allowed per call")
    customer_temperature: float = Field(default=0.8, ge=0, le=2)
    customer_max_tokens: int = Field(default=200, ge=16, description="a customer message is short")
    judge_max_tokens: int = Field(default=1500, ge=32)
    merge_system: bool = Field(default=False, description="fold the system prompt into the first user message, "
                                                          "for chat templates without a system role (Gemma)")
    judge_method: Literal["json_schema", "function_calling", "json_mode"] = Field(
        default="json_schema", description="how the judge asks for structured output")
    azure_endpoint: str | None = None
    azure_api_key: SecretStr | None = None
    api_version: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "LLMConfig":
        env = os.environ if env is None else env
        values = {field: env[name] for name, field in ENV_FIELDS.items() if env.get(name)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    @property
    def configured(self) -> bool:
        """True when there is somewhere to send requests."""
        if self.provider == "azure":
            return bool(self.azure_endpoint)
        return bool(self.base_url or self.api_key)

    def describe(self) -> str:
        where = self.azure_endpoint if self.provider == "azure" else (self.base_url or "api.openai.com")
        return f"{self.provider} at {where} (customer: {self.customer_model}, judge: {self.judge_model})"

    def model_name(self, role: Role) -> str:
        return self.customer_model if role == "customer" else self.judge_model


def chat_model(config: LLMConfig, role: Role) -> BaseChatModel:
    """Build the chat model for one role. The judge runs at temperature 0 for repeatable grades."""
    temperature = config.customer_temperature if role == "customer" else 0.0
    max_tokens = config.customer_max_tokens if role == "customer" else config.judge_max_tokens
    common = {"temperature": temperature, "timeout": config.timeout, "max_retries": config.max_retries,
              "max_tokens": max_tokens}
    if config.provider == "azure":
        from langchain_openai import AzureChatOpenAI

        key = config.azure_api_key or config.api_key
        return AzureChatOpenAI(azure_deployment=config.model_name(role), azure_endpoint=config.azure_endpoint,
                               api_version=config.api_version, api_key=key, **common)
    from langchain_openai import ChatOpenAI

    # Local servers (Ollama, vLLM, llama.cpp) ignore the key, but the SDK requires one.
    key = config.api_key or SecretStr("not-needed")
    # The SDK sends `max_completion_tokens`; several compatible servers only honour `max_tokens`.
    extra = {"extra_body": {"max_tokens": max_tokens}} if config.base_url else {}
    return ChatOpenAI(model=config.model_name(role), base_url=config.base_url, api_key=key,
                      stream_usage=True, **common, **extra)


@lru_cache(maxsize=16)
def prompt_file(path: Path) -> str:
    """A prompt template from its file, read once per process rather than on every turn."""
    return Path(path).read_text(encoding="utf-8")


def fold_system(messages: list[BaseMessage]) -> list[BaseMessage]:
    """For chat templates that drop system messages: the system text opens the first user message."""
    system = "\n\n".join(str(m.content) for m in messages if isinstance(m, SystemMessage))
    rest = [m for m in messages if not isinstance(m, SystemMessage)]
    if not system:
        return rest
    if rest and isinstance(rest[0], HumanMessage):
        return [HumanMessage(f"{system}\n\n{rest[0].content}"), *rest[1:]]
    return [HumanMessage(system), *rest]
