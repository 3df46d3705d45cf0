"""Every shipped persona, played by both reference trainees: the simulator must discriminate."""

import pytest

from simulator.bots import GoodTrainee, PoorTrainee, ScriptedTrainee, paraphrase
from simulator.persona import Outcome
from simulator.play import play_session
from tests.conftest import SHIPPED


@pytest.mark.parametrize("persona_id", SHIPPED)
def test_good_trainee_resolves_and_calms_the_customer(personas, offline, persona_id):
    session = play_session(personas[persona_id], GoodTrainee(), offline)
    assert session.outcome is Outcome.resolved
    assert session.anger < session.start_anger
    assert all(not t.grade.red_flags for t in session.turns)


@pytest.mark.parametrize("persona_id", SHIPPED)
def test_poor_trainee_escalates_or_loses_the_customer(personas, offline, persona_id):
    session = play_session(personas[persona_id], PoorTrainee(), offline)
    assert session.outcome in (Outcome.escalated, Outcome.left)
    assert session.anger > session.start_anger


@pytest.mark.parametrize("persona_id", SHIPPED)
def test_customer_never_repeats_itself_back_to_back(personas, offline, persona_id):
    for trainee in (GoodTrainee(), PoorTrainee()):
        session = play_session(personas[persona_id], trainee, offline)
        texts = [m.text for m in session.messages if m.role == "customer"]
        assert all(a != b for a, b in zip(texts, texts[1:]))


def test_same_persona_and_replies_give_the_same_session(personas, offline):
    one = play_session(personas["saas-budget-discount"], GoodTrainee(), offline)
    two = play_session(personas["saas-budget-discount"], GoodTrainee(), offline)
    assert one == two


def test_reply_file_runs_out_and_the_session_is_abandoned(personas, offline):
    session = play_session(personas["late-birthday-gift"], ScriptedTrainee(["I'm sorry to hear about that.", ""]), offline)
    assert len(session.turns) == 1 and session.outcome is Outcome.abandoned


def test_paraphrase_turns_the_customer_statement_around():
    assert paraphrase("My router drops every evening. Why?") == "your router drops every evening"
