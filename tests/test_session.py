import json

import pytest

from evaluators.judge import Judge
from simulator.persona import Outcome
from simulator.session import MAX_REPLY_CHARS, ReplyRejected, SessionOver, end_session, take_turn
from simulator.state import Session, start_session


class BrokenJudge(Judge):
    name = "broken"

    def grade(self, context, reply):
        raise RuntimeError("endpoint unreachable")


def test_take_turn_returns_a_new_value_and_leaves_the_old_one_alone(persona, judge, customer):
    before = start_session(persona)
    after = take_turn(before, "I'm sorry your son's present is missing - that's awful. When did you last check?", judge, customer)
    assert len(before.turns) == 0 and len(before.messages) == 1
    assert len(after.turns) == 1 and [m.role for m in after.messages] == ["customer", "trainee", "customer"]
    assert after.turns[0].anger_before == before.anger


def test_session_is_json_serialisable_and_round_trips(persona, judge, customer):
    session = take_turn(start_session(persona), "Calm down.", judge, customer)
    assert Session.model_validate(json.loads(session.model_dump_json())) == session


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_reply_is_refused(persona, judge, customer, text):
    with pytest.raises(ReplyRejected, match="Type a reply"):
        take_turn(start_session(persona), text, judge, customer)


def test_overlong_reply_is_refused_with_the_limit(persona, judge, customer):
    with pytest.raises(ReplyRejected, match=f"limit is {MAX_REPLY_CHARS:,}"):
        take_turn(start_session(persona), "x" * (MAX_REPLY_CHARS + 1), judge, customer)


def test_reply_text_is_kept_verbatim_including_html(persona, judge, customer):
    text = "<b>Hello</b> <script>alert(1)</script> I'm sorry your parcel is missing."
    session = take_turn(start_session(persona), text, judge, customer)
    assert session.messages[1].text == text and session.turns[0].trainee == text


def test_a_failing_judge_falls_back_visibly_and_keeps_the_turn(persona, judge, customer):
    session = take_turn(start_session(persona), "I'll open a trace today.", BrokenJudge(), customer, fallback_judge=judge)
    assert session.turns[0].grade.judge == judge.name
    assert "graded offline: the broken judge failed: endpoint unreachable" in session.turns[0].grade.note


def test_no_turns_after_the_end(persona, judge, customer):
    over = end_session(start_session(persona))
    assert over.outcome is Outcome.abandoned
    with pytest.raises(SessionOver):
        take_turn(over, "hello", judge, customer)


def test_custom_starting_anger(persona):
    assert start_session(persona, start_anger=2).anger == 2
    assert start_session(persona, start_anger=42).anger == 10
