"""The turn-grading file format (JSONL in, JSONL out), documented in the README."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaluators.grade import GradingContext, Message, PersonaBrief, TurnGrade


class GradeRequest(BaseModel):
    """One input line: the conversation so far (ending with the customer) and the reply to grade."""

    model_config = ConfigDict(extra="ignore")

    id: str | int
    persona: PersonaBrief = Field(default_factory=PersonaBrief)
    history: list[Message] = Field(default_factory=list)
    reply: str

    @field_validator("history")
    @classmethod
    def _ends_with_customer(cls, history: list[Message]) -> list[Message]:
        if history and history[-1].role != "customer":
            raise ValueError("history must end with a customer message")
        return history

    def context(self) -> GradingContext:
        return GradingContext(persona=self.persona, history=self.history)


class GradeResult(BaseModel):
    id: str | int
    scores: dict[str, int | None]
    red_flags: list[str]
    evidence: dict[str, list[str]]
    tip: str
    judge: str
    note: str | None = None

    @classmethod
    def from_grade(cls, request_id: str | int, grade: TurnGrade) -> "GradeResult":
        return cls(id=request_id, scores={d.value: s for d, s in grade.scores.items()},
                   red_flags=[f.value for f in grade.red_flags], evidence=grade.evidence, tip=grade.tip,
                   judge=grade.judge, note=grade.note)


class LineError(BaseModel):
    line: int
    problem: str


def read_requests(stream: TextIO) -> Iterator[GradeRequest | LineError]:
    """Yield one request per non-blank line, or a `LineError` saying what is wrong with that line."""
    for number, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        try:
            yield GradeRequest.model_validate(json.loads(raw))
        except json.JSONDecodeError as exc:
            yield LineError(line=number, problem=f"not valid JSON ({exc.msg})")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "line"
            yield LineError(line=number, problem=f"{where}: {first['msg']}")
