"""One turn of the conversation: grade the reply, move the mood, let the customer answer.

`take_turn` takes a `Session` value and returns a new one; the caller owns storage.
"""

from __future__ import annotations

import logging

from evaluators.grade import Message, TurnGrade
from evaluators.judge import Judge
from evaluators.rubric import Dimension
from simulator import mood as mood_model
from simulator.customer import Customer
from simulator.persona import Outcome
from simulator.state import Session, Turn

MAX_REPLY_CHARS = 2000
RECENT_LINES_KEPT = 12
log = logging.getLogger(__name__)


class ReplyRejected(ValueError):
    """A reply the engine will not take; the message says why, for the trainee to read."""


class SessionOver(ValueError):
    pass


def check_reply(text: str) -> str:
    """Return the reply stripped, or raise `ReplyRejected` (empty, or longer than the limit)."""
    reply = (text or "").strip()
    if not reply:
        raise ReplyRejected("Type a reply to the customer first.")
    if len(reply) > MAX_REPLY_CHARS:
        raise ReplyRejected(f"Your reply is {len(reply):,} characters; the limit is {MAX_REPLY_CHARS:,}. "
                            "Shorten it - real customers stop reading long replies.")
    return reply


def grade_safely(judge: Judge, fallback: Judge | None, session: Session, reply: str) -> TurnGrade:
    """Grade with `judge`; if it fails, grade with `fallback` and say so on the grade."""
    try:
        return judge.grade(session.grading_context(), reply)
    except Exception as exc:  # a broken judge must not cost the trainee their turn
        if fallback is None or fallback is judge:
            raise
        log.warning("judge %s failed: %s", judge.name, exc)
        grade = fallback.grade(session.grading_context(), reply)
        return grade.model_copy(update={"note": f"graded offline: the {judge.name} judge failed: {exc}"})


def take_turn(session: Session, text: str, judge: Judge, customer: Customer, fallback_judge: Judge | None = None) -> Session:
    """Grade the trainee's reply, update anger, get the customer's answer; return the new session."""
    if session.ended:
        raise SessionOver(f"This conversation has ended ({session.outcome.value}). Start a new one.")
    reply = check_reply(text)
    grade = grade_safely(judge, fallback_judge, session, reply)
    persona = session.persona
    plan_seen = session.plan_seen or (grade.scores.get(Dimension.plan) or 0) >= 2
    update = mood_model.update(session.anger, grade, persona.anger, reply=reply, triggers=list(persona.triggers),
                               soothers=list(persona.soothers), poor_streak=session.poor_streak,
                               plan_seen=plan_seen, turn_number=len(session.turns) + 1)
    answer = customer.respond(session, reply, grade, update)
    turn = Turn(number=len(session.turns) + 1, trainee=reply, customer=answer.text, anger_before=session.anger,
                anger_after=update.anger_after, grade=grade, move=answer.move, revealed=answer.revealed,
                mood_reasons=update.reasons)
    return session.model_copy(update={
        "anger": update.anger_after,
        "messages": [*session.messages, Message(role="trainee", text=reply), Message(role="customer", text=answer.text)],
        "turns": [*session.turns, turn],
        "revealed": [*session.revealed, *answer.revealed],
        "poor_streak": update.poor_streak,
        "plan_seen": plan_seen,
        "outcome": update.outcome,
        "recent_lines": [*session.recent_lines, *answer.lines][-RECENT_LINES_KEPT:],
    })


def end_session(session: Session) -> Session:
    """The trainee stops: an unfinished conversation counts as abandoned."""
    return session if session.ended else session.model_copy(update={"outcome": Outcome.abandoned})
