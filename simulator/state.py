"""Conversation state as a typed value: passed in and out of every turn, never held in globals."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from evaluators.grade import CallUsage, GradingContext, Message, PersonaBrief, TurnGrade
from simulator.persona import Move, Outcome, Persona


class Turn(BaseModel):
    """One exchange: what the trainee said, how it was graded, how the customer took it."""

    model_config = ConfigDict(frozen=True)

    number: int
    trainee: str
    customer: str
    anger_before: float
    anger_after: float
    grade: TurnGrade
    move: Move
    revealed: list[str] = Field(default_factory=list)
    mood_reasons: list[str] = Field(default_factory=list)
    customer_guards: list[str] = Field(default_factory=list, description="LLM customer guards that fired")
    notes: list[str] = Field(default_factory=list, description="visible notices: fallbacks, ignored text")
    usage: list[CallUsage] = Field(default_factory=list, description="LLM calls spent on this turn")


class Session(BaseModel):
    """Everything about one training conversation; fits `gr.State` and serialises to JSON."""

    model_config = ConfigDict(frozen=True)

    persona: Persona
    engine: str
    start_anger: float
    anger: float
    messages: list[Message]
    turns: list[Turn] = Field(default_factory=list)
    revealed: list[str] = Field(default_factory=list)
    poor_streak: int = 0
    plan_seen: bool = False
    outcome: Outcome | None = None
    recent_lines: list[str] = Field(default_factory=list, description="customer lines already used, newest last")

    @property
    def ended(self) -> bool:
        return self.outcome is not None

    @property
    def anger_trajectory(self) -> list[float]:
        return [self.start_anger] + [t.anger_after for t in self.turns]

    def grading_context(self) -> GradingContext:
        return GradingContext(persona=PersonaBrief(name=self.persona.name, situation=self.persona.situation),
                              history=list(self.messages))


def start_session(persona: Persona, engine: str = "offline", start_anger: float | None = None) -> Session:
    """A new conversation opened by the customer's opening line."""
    anger = float(persona.anger.start if start_anger is None else max(0, min(10, start_anger)))
    return Session(persona=persona, engine=engine, start_anger=anger, anger=anger,
                   messages=[Message(role="customer", text=persona.opening_line)],
                   recent_lines=[persona.opening_line])
