from evaluators.grade import TurnGrade
from evaluators.rubric import Dimension as D, RedFlag as F
from simulator.customer import OfflineCustomer, classify_move, facts_earned, pick_line
from simulator.mood import MoodUpdate
from simulator.persona import Move, Outcome
from simulator.state import start_session


def grade(scores: dict, flags=()) -> TurnGrade:
    return TurnGrade(scores={d: scores.get(d) for d in D}, red_flags=list(flags), judge="test")


def mood(after: float, outcome=None) -> MoodUpdate:
    return MoodUpdate(anger_before=7, anger_after=after, quality=0, poor_streak=0, outcome=outcome, reasons=[])


def test_blame_gets_an_angrier_authored_line(persona):
    reply = OfflineCustomer().respond(start_session(persona), "You should have", grade({D.perspective: 0}, [F.blame]), mood(9))
    assert reply.move is Move.blamed
    assert reply.lines[0] in persona.lines.by_move[Move.blamed]
    assert reply.lines[-1] in persona.lines.by_mood["furious"]


def test_a_good_question_on_the_right_topic_reveals_that_fact(persona):
    question = "I'm here to help. Can you tell me what the delivery photo shows?"
    reply = OfflineCustomer().respond(start_session(persona), question, grade({D.facilitator: 3}), mood(6))
    assert reply.revealed == ["neighbour"]
    assert persona.hidden_facts[1].line in reply.text


def test_no_fact_without_a_question_or_with_a_red_flag(persona):
    g = grade({D.facilitator: 3, D.empathy: 3})
    assert facts_earned(persona, [], "I'm sorry your son's present is missing.", g) == []
    assert facts_earned(persona, [], "Where was it delivered? You should have been home.",
                        grade({D.facilitator: 3}, [F.blame])) == []


def test_facts_are_not_revealed_twice(persona):
    g = grade({D.facilitator: 3})
    assert facts_earned(persona, ["neighbour"], "What does the delivery photo show?", g)[0].id != "neighbour"


def test_never_the_same_line_twice_in_a_row():
    options = ["a", "b", "c"]
    for turn in range(20):
        previous = pick_line(options, f"k{turn}", [])
        assert pick_line(options, f"k{turn}", [previous]) != previous


def test_endings_close_the_conversation(persona):
    resolved = OfflineCustomer().respond(start_session(persona), "x", grade({D.plan: 3}), mood(2, Outcome.resolved))
    assert resolved.lines[-1] in persona.lines.endings[Outcome.resolved]
    left = OfflineCustomer().respond(start_session(persona), "x", grade({D.perspective: 0}), mood(8, Outcome.left))
    assert left.lines[-1] in persona.lines.endings[Outcome.left]


def test_move_priorities():
    assert classify_move(grade({D.plan: 3}, [F.calm_down])) is Move.told_to_calm_down
    assert classify_move(grade({D.plan: 2, D.follow_through: 3})) is Move.committed
    assert classify_move(grade({D.facilitator: 0})) is Move.dismissed
    assert classify_move(grade({D.empathy: 2})) is Move.acknowledged
    assert classify_move(grade({D.empathy: 1, D.facilitator: 1})) is Move.neutral
