"""The judges' output contract: what a graded turn is, whichever judge produced it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from evaluators.rubric import Dimension, RedFlag

Score = Annotated[int, Field(ge=0, le=3)]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["customer", "trainee"]
    text: str


class PersonaBrief(BaseModel):
    """What a judge may know of the customer: enough to read context, nothing hidden."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    situation: str = ""


class GradingContext(BaseModel):
    """The conversation before the reply being graded; it ends with a customer message."""

    persona: PersonaBrief = Field(default_factory=PersonaBrief)
    history: list[Message] = Field(default_factory=list)

    def customer_texts(self) -> list[str]:
        return [m.text for m in self.history if m.role == "customer"]

    def trainee_texts(self) -> list[str]:
        return [m.text for m in self.history if m.role == "trainee"]


class CallUsage(BaseModel):
    """Tokens of one LLM call; `estimated` when the server did not report usage."""

    role: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False


class TurnGrade(BaseModel):
    """One trainee reply, graded. `None` scores mean 'not applicable yet', never 'failed'."""

    model_config = ConfigDict(extra="forbid")

    scores: dict[Dimension, Score | None]
    red_flags: list[RedFlag] = Field(default_factory=list)
    evidence: dict[str, list[str]] = Field(default_factory=dict, description="dimension or red flag -> quotes")
    reasons: dict[Dimension, str] = Field(default_factory=dict)
    tip: str = ""
    judge: Annotated[str, StringConstraints(min_length=1)]
    note: str | None = Field(default=None, description="visible notice, e.g. a fallback to another judge")
    usage: list[CallUsage] = Field(default_factory=list, description="LLM calls spent on this grade")

    def applicable(self) -> dict[Dimension, int]:
        return {d: s for d, s in self.scores.items() if s is not None}

    def quality(self) -> float:
        """Turn quality in [-1, 1]: mean of applicable scores rescaled, 0 when nothing applies."""
        scores = list(self.applicable().values())
        if not scores:
            return 0.0
        return (sum(scores) / len(scores) - 1.5) / 1.5
