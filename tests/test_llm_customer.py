"""The LLM customer with LangChain's fake chat model: prompt, streaming, guards, fallback, budget."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from evaluators.grade import TurnGrade
from evaluators.rubric import Dimension as D
from simulator.llm_customer import LLMCustomer, clean, conversation, guard_failures, render_system
from simulator.mood import MoodUpdate
from simulator.persona import Outcome
from simulator.state import start_session
from tests.conftest import fake_chat


def grade(**scores) -> TurnGrade:
    return TurnGrade(scores={d: scores.get(d.value) for d in D}, judge="test")


def mood(anger: float, outcome=None) -> MoodUpdate:
    return MoodUpdate(anger_before=7, anger_after=anger, quality=0, poor_streak=0, outcome=outcome,
                      reasons=["handled poorly (calm_down)"])


def test_prompt_carries_persona_mood_limits_and_hides_unearned_facts(persona):
    session = start_session(persona)
    prompt = render_system(session, mood(8.5), earned=["neighbour"])
    assert "Dana Whitfield" in prompt and "8.5/10 (furious)" in prompt and "handled poorly (calm_down)" in prompt
    assert "blue door" in prompt  # earned: may say it
    assert "Keep these to yourself" in prompt and persona.hidden_facts[0].fact in prompt
    assert persona.trainee_brief.not_negotiable[0] in prompt
    assert "do not say goodbye" in prompt


def test_streams_and_returns_the_reply(persona):
    customer = LLMCustomer(fake_chat("Where is my bike? I paid for next-day delivery."), model_name="fake")
    items = list(customer.stream(start_session(persona), "I'm sorry.", grade(empathy=1), mood(7)))
    partials, final = items[:-1], items[-1]
    assert len(partials) > 1 and partials[-1] == final.text == "Where is my bike? I paid for next-day delivery."
    assert final.guards == [] and final.usage[0].role == "customer" and final.usage[0].completion_tokens > 0


@pytest.mark.parametrize("bad,guard", [
    ("How can I help you today?", "role_reversal"),
    ("As an AI language model, I cannot be angry.", "character_break"),
    ("Thank you so much, that's perfect!", "too_calm"),
    ("OK, goodbye and have a nice day.", "early_end"),
])
def test_each_guard_regenerates_once(persona, bad, guard):
    customer = LLMCustomer(fake_chat(bad, "That's not good enough. I want the bike by Saturday."))
    reply = customer.respond(start_session(persona), "ok", grade(empathy=1), mood(7.5))
    assert reply.text == "That's not good enough. I want the bike by Saturday."
    assert reply.guards == [guard]


def test_an_empty_message_is_caught(persona):
    assert guard_failures("  ", start_session(persona), mood(7)) == ["empty"]


def test_repeating_itself_is_caught(persona):
    session = start_session(persona)
    assert guard_failures(persona.opening_line, session, mood(7)) == ["repetition"]


def test_calm_words_are_fine_once_the_customer_is_calm(persona):
    assert guard_failures("Thank you so much, that's perfect.", start_session(persona), mood(2)) == []
    assert guard_failures("OK, goodbye.", start_session(persona), mood(2, Outcome.resolved)) == []


def test_two_failures_fall_back_to_an_authored_line(persona):
    customer = LLMCustomer(fake_chat("How can I help you?", "As an AI I can't."))
    reply = customer.respond(start_session(persona), "Calm down.", grade(perspective=0), mood(9))
    assert reply.guards == ["role_reversal", "character_break", "fallback_to_authored_line"]
    assert reply.lines[0] in [line for lines in persona.lines.by_move.values() for line in lines]


def test_long_sessions_are_trimmed_to_the_budget_with_a_summary(persona, judge, customer):
    from simulator.bots import GoodTrainee
    from simulator.play import play_session
    from simulator.session import TurnEngine
    from simulator.tokens import count_message_tokens

    session = play_session(persona, GoodTrainee(), TurnEngine(judge, customer, judge, customer))
    system = render_system(session, mood(3), [])
    full = conversation(session, "One more thing.", system, budget=100_000)
    trimmed = conversation(session, "One more thing.", system, budget=count_message_tokens([("system", system)]) + 120)
    assert len(trimmed) < len(full)
    assert isinstance(trimmed[0], SystemMessage) and "not shown" in trimmed[0].content
    assert isinstance(trimmed[-1], HumanMessage) and trimmed[-1].content == "One more thing."
    assert isinstance(full[1], HumanMessage) and isinstance(full[2], AIMessage)  # the customer opens


def test_clean_strips_template_tokens_and_prefixes():
    assert clean('<start_of_turn>model Customer: "Where is it?"<end_of_turn>') == "Where is it?"


def test_system_prompt_can_be_folded_for_templates_without_a_system_role(persona):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    seen = []

    class Spy(GenericFakeChatModel):
        def _stream(self, messages, *args, **kwargs):
            seen.append(messages)
            return super()._stream(messages, *args, **kwargs)

    model = Spy(messages=iter([AIMessage("Where is the bike?")]))
    LLMCustomer(model, merge_system=True).respond(start_session(persona), "Hello.", grade(empathy=1), mood(7))
    assert not any(isinstance(m, SystemMessage) for m in seen[0])
    assert seen[0][0].content.startswith("You are role-playing a CUSTOMER")
