"""The customer role, and the offline customer that speaks in the persona author's lines."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod

from pydantic import BaseModel, ConfigDict, Field

from evaluators.grade import CallUsage, TurnGrade
from evaluators.rubric import Dimension, RedFlag
from evaluators.text import normalise, sentences
from simulator.mood import MoodUpdate, band
from simulator.persona import HiddenFact, Move, Outcome, Persona
from simulator.state import Session

# First match wins: what the customer reacts to most strongly.
_FLAG_MOVES = [
    (RedFlag.calm_down, Move.told_to_calm_down),
    (RedFlag.sarcasm_or_insult, Move.insulted),
    (RedFlag.patronising, Move.insulted),
    (RedFlag.blame, Move.blamed),
    (RedFlag.argue, Move.blamed),
    (RedFlag.policy_hiding, Move.policy),
    (RedFlag.over_promise, Move.over_promise),
    (RedFlag.hollow_apology, Move.hollow_apology),
    (RedFlag.jargon, Move.jargon),
]


_REAL_QUESTION = re.compile(
    r"\b(what|when|where|which|who|how|why|have you|did you|were you|could you tell|can you tell|tell me|"
    r"walk me through|help me understand)\b.*\?|\b(tell me|walk me through|help me understand)\b", re.IGNORECASE)


class CustomerReply(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    move: Move
    revealed: list[str]
    lines: list[str]
    guards: list[str] = Field(default_factory=list, description="guards that fired (LLM customer)")
    usage: list[CallUsage] = Field(default_factory=list)


class Customer(ABC):
    """Answers the trainee, given the session so far, the graded reply and the mood update."""

    name: str

    @abstractmethod
    def respond(self, session: Session, reply: str, grade: TurnGrade, mood: MoodUpdate) -> CustomerReply:
        ...


def classify_move(grade: TurnGrade) -> Move:
    """What the trainee did, as the customer perceives it."""
    for flag, move in _FLAG_MOVES:
        if flag in grade.red_flags:
            return move
    scores = grade.scores
    if scores.get(Dimension.facilitator) == 0:
        return Move.dismissed
    if (scores.get(Dimension.follow_through) or 0) >= 2 and (scores.get(Dimension.plan) or 0) >= 2:
        return Move.committed
    if (scores.get(Dimension.plan) or 0) >= 2:
        return Move.offered_plan
    if (scores.get(Dimension.empathy) or 0) >= 2:
        return Move.acknowledged
    if (scores.get(Dimension.facilitator) or 0) >= 2:
        return Move.asked
    return Move.neutral


def facts_earned(persona: Persona, revealed: list[str], reply: str, grade: TurnGrade) -> list[HiddenFact]:
    """A good question touching a fact's words earns it; a strong question earns the next fact anyway."""
    facilitator = grade.scores.get(Dimension.facilitator) or 0
    if facilitator < 2 or grade.red_flags:
        return []
    questions = " ".join(s for s in sentences(reply) if _REAL_QUESTION.search(s)).lower()
    if not questions:
        return []
    pending = [f for f in persona.hidden_facts if f.id not in revealed]
    touched = [f for f in pending if any(re.search(rf"(?<!\w){re.escape(w)}", questions) for w in f.ask_about)]
    if touched:
        return touched[:1]
    return pending[:1] if facilitator == 3 else []


def pick_line(options: list[str], key: str, recent: list[str]) -> str:
    """Deterministic choice that avoids lines used recently (never the same line twice in a row)."""
    start = int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(options)
    rotated = options[start:] + options[:start]
    for candidate in rotated:
        if candidate not in recent:
            return candidate
    last = recent[-1] if recent else None
    return next((c for c in rotated if c != last), rotated[0])


class OfflineCustomer(Customer):
    """Composes replies from authored lines: [reaction to the move] [earned fact] [mood line]."""

    name = "offline"

    def respond(self, session: Session, reply: str, grade: TurnGrade, mood: MoodUpdate) -> CustomerReply:
        persona, turn = session.persona, len(session.turns) + 1
        move = classify_move(grade)
        facts = facts_earned(persona, session.revealed, normalise(reply), grade)
        recent = session.recent_lines
        seed = f"{persona.id}:{turn}:{session.start_anger}"
        parts = [pick_line(persona.lines.by_move[move], f"{seed}:{move.value}", recent)]
        parts += [fact.line for fact in facts]
        if mood.outcome is None:
            parts.append(pick_line(persona.lines.by_mood[band(mood.anger_after)], f"{seed}:mood", recent + parts))
        elif mood.outcome is Outcome.resolved:
            parts = [fact.line for fact in facts] + [pick_line(persona.lines.endings[Outcome.resolved], seed, recent)]
        else:
            parts.append(pick_line(persona.lines.endings[mood.outcome], seed, recent))
        return CustomerReply(text=" ".join(parts), move=move, revealed=[f.id for f in facts], lines=parts)
