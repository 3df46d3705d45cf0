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
