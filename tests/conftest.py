from __future__ import annotations

from pathlib import Path

import pytest

from evaluators.grade import GradingContext, Message, PersonaBrief
from evaluators.offline import OfflineJudge
from evaluators.rubric import load_rubric
from simulator.customer import OfflineCustomer
from simulator.persona import DEFAULT_PERSONA_DIR, load_personas

SHIPPED = sorted(p.stem for p in DEFAULT_PERSONA_DIR.glob("*.yaml"))


@pytest.fixture(scope="session")
def rubric():
    return load_rubric()


@pytest.fixture(scope="session")
def judge(rubric):
    return OfflineJudge(rubric)


@pytest.fixture(scope="session")
def customer():
    return OfflineCustomer()


@pytest.fixture(scope="session")
def personas():
    loaded = load_personas()
    assert not loaded.errors, loaded.errors
    return loaded.personas


@pytest.fixture()
def persona(personas):
    return personas["late-birthday-gift"]


def context(customer_text: str, *earlier: tuple[str, str], name: str = "Dana Whitfield") -> GradingContext:
    """A grading context: optional earlier (role, text) messages, then the customer's last message."""
    history = [Message(role=role, text=text) for role, text in earlier] + [Message(role="customer", text=customer_text)]
    return GradingContext(persona=PersonaBrief(name=name, situation="test"), history=history)


@pytest.fixture()
def shipped_dir() -> Path:
    return DEFAULT_PERSONA_DIR


@pytest.fixture(scope="session")
def offline(judge, customer):
    from simulator.session import TurnEngine

    return TurnEngine(judge=judge, customer=customer, pre_scorer=judge, fallback_customer=customer)


# -- LLM fakes -----------------------------------------------------------------------------------

def fake_chat(*replies: str):
    """LangChain's fake chat model, streaming the given replies one per call."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    return GenericFakeChatModel(messages=iter([AIMessage(r) for r in replies]))


class Recorded:
    """A real ChatOpenAI whose HTTP transport replays recorded OpenAI responses and keeps the requests."""

    def __init__(self, *bodies):
        import httpx
        from langchain_openai import ChatOpenAI

        self.bodies, self.requests = list(bodies), []

        def handler(request: httpx.Request) -> httpx.Response:
            import json as _json

            self.requests.append(_json.loads(request.content))
            body = self.bodies.pop(0)
            if isinstance(body, httpx.Response):
                return body
            return httpx.Response(200, json=body)

        self.model = ChatOpenAI(model="recorded", base_url="http://recorded.test/v1", api_key="test",
                                max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def completion(content: str, prompt_tokens: int = 900, completion_tokens: int = 150) -> dict:
    """An OpenAI chat.completion response body, as the API returns it."""
    return {"id": "chatcmpl-rec", "object": "chat.completion", "created": 1, "model": "recorded",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}
