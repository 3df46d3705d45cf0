"""One turn of the conversation: grade the reply, move the mood, let the customer answer.

`run_turn` takes a `Session` value and yields the customer's text as it streams, then the new
`Session`; the caller owns storage. The trainee waits as little as possible: a fast offline
pre-score sets the mood the customer speaks from, so the customer starts at once while the
(slower) judge grades in parallel; the judge's grade then sets the anger carried forward.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

from evaluators.grade import GradingContext, Message, TurnGrade
from evaluators.judge import Judge, fallback_grade, short_error
from evaluators.rubric import Dimension
from simulator import mood as mood_model
from simulator.customer import Customer, CustomerReply
from simulator.persona import Outcome
from simulator.state import Session, Turn

MAX_REPLY_CHARS = 2000
RECENT_LINES_KEPT = 12
log = logging.getLogger(__name__)


class ReplyRejected(ValueError):
    """A reply the engine will not take; the message says why, for the trainee to read."""


class SessionOver(ValueError):
    pass


@dataclass(frozen=True)
class TurnEngine:
    """What a turn needs. `pre_scorer` is fast and offline; it is also the judge's fallback."""

    judge: Judge
    customer: Customer
    pre_scorer: Judge
    fallback_customer: Customer


def check_reply(text: str) -> str:
    """Return the reply stripped, or raise `ReplyRejected` (empty, or longer than the limit)."""
    reply = (text or "").strip()
    if not reply:
        raise ReplyRejected("Type a reply to the customer first.")
    if len(reply) > MAX_REPLY_CHARS:
        raise ReplyRejected(f"Your reply is {len(reply):,} characters; the limit is {MAX_REPLY_CHARS:,}. "
                            "Shorten it - real customers stop reading long replies.")
    return reply


def grade_safely(judge: Judge, fallback: Judge, context: GradingContext, reply: str) -> TurnGrade:
    """Grade with `judge`; if it fails, grade with `fallback` and say so on the grade."""
    try:
        return judge.grade(context, reply)
    except Exception as exc:  # a broken judge must not cost the trainee their turn; the grade says why
        if fallback is judge:
            raise
        log.warning("judge %s failed: %s", judge.name, exc)
        return fallback_grade(judge, fallback, exc, context, reply)


def _mood(session: Session, grade: TurnGrade, reply: str) -> mood_model.MoodUpdate:
    persona = session.persona
    plan_seen = session.plan_seen or (grade.scores.get(Dimension.plan) or 0) >= 2
    return mood_model.update(session.anger, grade, persona.anger, reply=reply, triggers=list(persona.triggers),
                             soothers=list(persona.soothers), poor_streak=session.poor_streak,
                             plan_seen=plan_seen, turn_number=len(session.turns) + 1)


def _customer_stream(engine: TurnEngine, session: Session, reply: str, grade: TurnGrade,
                     mood: mood_model.MoodUpdate) -> Iterator[str | CustomerReply]:
    """The customer's reply as it streams; if the customer fails outright, an authored line instead."""
    stream = getattr(engine.customer, "stream", None)
    try:
        if stream is None:
            yield engine.customer.respond(session, reply, grade, mood)
        else:
            yield from stream(session, reply, grade, mood)
    except Exception as exc:  # a dead endpoint must not cost the turn; the turn records why
        log.warning("customer %s failed: %s", engine.customer.name, exc)
        offline = engine.fallback_customer.respond(session, reply, grade, mood)
        yield offline.model_copy(update={"guards": [f"customer_failed: the {engine.customer.name} customer failed "
                                                    f"({short_error(exc)}); an authored line was used"]})


def run_turn(session: Session, text: str, engine: TurnEngine) -> Iterator[str | Session]:
    """Yield the customer's text so far while it streams, then the new `Session` (always last)."""
    if session.ended:
        raise SessionOver(f"This conversation has ended ({session.outcome.value}). Start a new one.")
    reply = check_reply(text)
    context = session.grading_context()
    parallel = engine.judge is not engine.pre_scorer
    with ThreadPoolExecutor(max_workers=1) if parallel else nullcontext() as pool:
        pending = pool.submit(grade_safely, engine.judge, engine.pre_scorer, context, reply) if parallel else None
        pre_grade = engine.pre_scorer.grade(context, reply)
        spoken_mood = _mood(session, pre_grade, reply)
        answer: CustomerReply | None = None
        for item in _customer_stream(engine, session, reply, pre_grade, spoken_mood):
            if isinstance(item, CustomerReply):
                answer = item
            else:
                yield item
        grade = pending.result() if pending else pre_grade
    assert answer is not None
    mood = spoken_mood if grade is pre_grade else _mood(session, grade, reply)
    outcome = spoken_mood.outcome  # what the customer actually said decides how the conversation ends
    notes = [n for n in [grade.note] if n] + [g.partition(": ")[2] for g in answer.guards if g.startswith("customer_failed")]
    if "fallback_to_authored_line" in answer.guards:
        notes.append("the LLM customer kept breaking its guards; an authored line was used")
    turn = Turn(number=len(session.turns) + 1, trainee=reply, customer=answer.text, anger_before=session.anger,
                anger_after=mood.anger_after, grade=grade, move=answer.move, revealed=answer.revealed,
                mood_reasons=mood.reasons, customer_guards=answer.guards, notes=notes,
                usage=[*grade.usage, *answer.usage])
    yield session.model_copy(update={
        "anger": mood.anger_after,
        "messages": [*session.messages, Message(role="trainee", text=reply), Message(role="customer", text=answer.text)],
        "turns": [*session.turns, turn],
        "revealed": [*session.revealed, *answer.revealed],
        "poor_streak": mood.poor_streak,
        "plan_seen": session.plan_seen or (grade.scores.get(Dimension.plan) or 0) >= 2
        or (pre_grade.scores.get(Dimension.plan) or 0) >= 2,
        "outcome": outcome,
        "recent_lines": [*session.recent_lines, *answer.lines][-RECENT_LINES_KEPT:],
    })


_PREPARING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="defuse-prepare")


def prepare_next_turn(engine: TurnEngine, session: Session) -> Future | None:
    """While the trainee reads and types, let the judges precompute what grading their reply will need
    (the embedding judge embeds the customer's line). Best effort: a failure here costs nothing."""
    if session.ended:
        return None
    context = session.grading_context()
    judges = [engine.pre_scorer] + ([engine.judge] if engine.judge is not engine.pre_scorer else [])
    return _PREPARING.submit(lambda: [judge.prepare(context) for judge in judges])


def take_turn(session: Session, text: str, judge: Judge, customer: Customer, fallback_judge: Judge | None = None,
              fallback_customer: Customer | None = None) -> Session:
    """`run_turn` without streaming: returns the new session."""
    engine = TurnEngine(judge=judge, customer=customer, pre_scorer=fallback_judge or judge,
                        fallback_customer=fallback_customer or customer)
    *_, new = run_turn(session, text, engine)
    assert isinstance(new, Session)
    return new


def end_session(session: Session) -> Session:
    """The trainee stops: an unfinished conversation counts as abandoned."""
    return session if session.ended else session.model_copy(update={"outcome": Outcome.abandoned})
