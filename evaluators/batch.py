"""Grading files of turns: the turn-grading format (JSONL or CSV, or whole transcripts), graded
concurrently, appended as results finish, resumable.

Memory stays constant in the input size: lines are read lazily and at most `concurrency` grades
are in flight. Each result is written and flushed the moment it is ready, so an interrupted run
loses nothing already graded, and a re-run skips the ids already in the output (except those that
fell back to the offline judge, which it tries again).
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaluators.grade import GradingContext, Message, PersonaBrief, TurnGrade
from evaluators.judge import FALLBACK_PREFIX, Judge, fallback_grade

MAX_GRADED_REPLY_CHARS = 20_000  # a chat reply, not a document: longer input is refused per line
log = logging.getLogger(__name__)


class GradeRequest(BaseModel):
    """One input line: the conversation so far (ending with the customer) and the reply to grade."""

    model_config = ConfigDict(extra="ignore")

    id: str | int
    persona: PersonaBrief = Field(default_factory=PersonaBrief)
    history: list[Message] = Field(default_factory=list)
    reply: str = Field(min_length=1, max_length=MAX_GRADED_REPLY_CHARS, description="the trainee reply to grade")

    @field_validator("history")
    @classmethod
    def _ends_with_customer(cls, history: list[Message]) -> list[Message]:
        if history and history[-1].role != "customer":
            raise ValueError("history must end with a customer message")
        return history

    def context(self) -> GradingContext:
        return GradingContext(persona=self.persona, history=self.history)


class Transcript(BaseModel):
    """A whole session: every trainee turn is graded in the context before it."""

    model_config = ConfigDict(extra="ignore")

    id: str | int
    persona: PersonaBrief = Field(default_factory=PersonaBrief)
    transcript: list[Message]

    def requests(self) -> Iterator[GradeRequest]:
        turn = 0
        for index, message in enumerate(self.transcript):
            if message.role == "trainee" and index > 0 and self.transcript[index - 1].role == "customer":
                turn += 1
                yield GradeRequest(id=f"{self.id}#t{turn}", persona=self.persona,
                                   history=self.transcript[:index], reply=message.text)


class GradeResult(BaseModel):
    id: str | int
    persona: str = ""
    scores: dict[str, int | None]
    red_flags: list[str]
    evidence: dict[str, list[str]]
    tip: str
    judge: str
    note: str | None = None

    @classmethod
    def from_grade(cls, request: GradeRequest, grade: TurnGrade) -> "GradeResult":
        return cls(id=request.id, persona=request.persona.name, scores={d.value: s for d, s in grade.scores.items()},
                   red_flags=[f.value for f in grade.red_flags], evidence=grade.evidence, tip=grade.tip,
                   judge=grade.judge, note=grade.note)


class LineError(BaseModel):
    line: int
    problem: str


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "line"
    return f"{where}: {first['msg']}"


def parse_record(raw: dict, number: int) -> Iterator[GradeRequest | LineError]:
    try:
        if "transcript" in raw:
            yield from Transcript.model_validate(raw).requests()
        else:
            yield GradeRequest.model_validate(raw)
    except ValidationError as exc:
        yield LineError(line=number, problem=_first_error(exc))


def read_requests(stream: TextIO) -> Iterator[GradeRequest | LineError]:
    """JSONL: one request (or one transcript) per non-blank line, or a `LineError` for that line."""
    for number, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield LineError(line=number, problem=f"not valid JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            yield LineError(line=number, problem="each line must be a JSON object")
            continue
        yield from parse_record(record, number)


def read_csv_requests(stream: TextIO) -> Iterator[GradeRequest | LineError]:
    """CSV with columns id, reply, and either `history` (JSON list) or `customer` (the last customer message);
    optional persona_name, persona_situation."""
    for number, row in enumerate(csv.DictReader(stream), 2):
        try:
            history = json.loads(row["history"]) if row.get("history") else \
                ([{"role": "customer", "text": row["customer"]}] if row.get("customer") else [])
        except (json.JSONDecodeError, KeyError) as exc:
            yield LineError(line=number, problem=f"history: not a JSON list of messages ({exc})")
            continue
        record = {"id": row.get("id"), "reply": row.get("reply"), "history": history,
                  "persona": {"name": row.get("persona_name", ""), "situation": row.get("persona_situation", "")}}
        yield from parse_record(record, number)


def open_requests(path: Path, stream: TextIO) -> Iterator[GradeRequest | LineError]:
    return read_csv_requests(stream) if path.suffix.lower() == ".csv" else read_requests(stream)


def finished_ids(path: Path) -> set[str]:
    """Ids already finished in a JSONL output file: graded turns (except fallback grades, which a re-run tries
    again) or played sessions. A line cut short by a crash does not count."""
    done: set[str] = set()
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as lines:
        for raw in lines:
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash: that id is graded again
            if isinstance(record, dict) and "id" in record and not str(record.get("note") or "").startswith(FALLBACK_PREFIX):
                done.add(str(record["id"]))
    return done


def drop_fallbacks(path: Path) -> None:
    """Before a re-run grades them again, remove earlier fallback results (streamed copy, then replace)."""
    if not path.exists():
        return
    temporary = path.with_suffix(path.suffix + ".compact")
    kept = dropped = 0
    with path.open(encoding="utf-8") as source, temporary.open("w", encoding="utf-8") as target:
        for raw in source:
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                dropped += 1
                continue
            if isinstance(record, dict) and str(record.get("note") or "").startswith(FALLBACK_PREFIX):
                dropped += 1
                continue
            target.write(raw if raw.endswith("\n") else raw + "\n")
            kept += 1
    if dropped:
        temporary.replace(path)
    else:
        temporary.unlink()


async def grade_safely_async(judge: Judge, fallback: Judge, request: GradeRequest) -> TurnGrade:
    try:
        return await judge.agrade(request.context(), request.reply)
    except Exception as exc:  # the batch goes on; the result says how this line was graded
        if fallback is judge:
            raise
        log.warning("judge %s failed: %s", judge.name, exc)
        return fallback_grade(judge, fallback, exc, request.context(), request.reply)


async def grade_stream(items: Iterable[GradeRequest | LineError], judge: Judge, fallback: Judge, *,
                       concurrency: int = 8, skip: set[str] | None = None) -> AsyncIterator[GradeResult | LineError]:
    """Grade with at most `concurrency` in flight; yield results as they finish (not in input order)."""
    skip = skip or set()
    pending: set[asyncio.Task] = set()

    async def one(request: GradeRequest) -> GradeResult:
        return GradeResult.from_grade(request, await grade_safely_async(judge, fallback, request))

    try:
        for item in items:
            if isinstance(item, LineError):
                yield item
                continue
            if str(item.id) in skip:
                continue
            if len(pending) >= concurrency:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    yield task.result()
            pending.add(asyncio.create_task(one(item)))
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield task.result()
    finally:
        for task in pending:
            task.cancel()


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


async def grade_file(source: Path, out: Path, judge: Judge, fallback: Judge, *, concurrency: int,
                     on_result: Callable[[GradeResult | LineError], None]) -> None:
    """Append each result to `out` as it finishes (flushed), skipping ids `out` already has."""
    skip = finished_ids(out)
    drop_fallbacks(out)
    with source.open(encoding="utf-8", newline="") as stream, out.open("a", encoding="utf-8") as sink:
        async for item in grade_stream(open_requests(source, stream), judge, fallback, concurrency=concurrency,
                                       skip=skip):
            if isinstance(item, GradeResult):
                sink.write(item.model_dump_json() + "\n")
                sink.flush()
            on_result(item)
