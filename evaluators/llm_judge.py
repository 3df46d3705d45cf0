"""The LLM judge: structured output on pydantic models, bounded re-asks, never an invented score.

The verdict is modelled as evidence, then reasoning, then a range-checked score, so the model
commits to quotes before it scores. Quotes are checked against the reply; a verdict whose
quotes are not the trainee's words, or which scores 2-3 with no evidence, is re-asked. After
the last attempt the judge raises `JudgeFailed`; the caller falls back to the offline judge
and says so on the grade.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Generator
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from langchain_core.utils.json import parse_json_markdown
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaluators.grade import CallUsage, GradingContext, TurnGrade
from evaluators.judge import Judge
from evaluators.neutral import Neutral, neutral_context, neutralise
from evaluators.offline import OfflineJudge, hollow_patterns, is_hollow
from evaluators.rubric import Dimension, RedFlag, Rubric, load_rubric
from evaluators.text import normalise, sentences, strip_grader_address
from simulator.llm import fold_system, prompt_file
from simulator.tokens import count_message_tokens, count_tokens

PROMPT = Path(__file__).resolve().parent / "prompts" / "judge.md"
MAX_ATTEMPTS = 3
UNUSABLE_OUTPUT = {"LengthFinishReasonError", "ContentFilterFinishReasonError", "OutputParserException"}
log = logging.getLogger(__name__)


class DimensionVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence: list[str] = Field(description="exact quotes from the trainee reply; empty if none")
    reasoning: str = Field(description="one or two sentences")
    score: int | None = Field(ge=0, le=3, description="0-3, or null if not applicable yet")


class RedFlagVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flag: RedFlag
    quote: str = Field(description="the exact words from the trainee reply")


class JudgeVerdict(BaseModel):
    """What the LLM must return; field order is the order it reasons in."""

    model_config = ConfigDict(extra="forbid")

    perspective: DimensionVerdict
    facilitator: DimensionVerdict
    empathy: DimensionVerdict
    plan: DimensionVerdict
    follow_through: DimensionVerdict
    red_flags: list[RedFlagVerdict]


VERDICT_SCHEMA = {**JudgeVerdict.model_json_schema(), "title": "JudgeVerdict",
                  "description": "Evidence, then reasoning, then a 0-3 score (or null) per dimension; red flags."}


class JudgeFailed(RuntimeError):
    """The LLM gave no usable verdict within the attempts allowed; `attempts` says what went wrong."""

    def __init__(self, attempts: list[str], usage: list[CallUsage] | None = None):
        self.attempts, self.usage = attempts, usage or []
        super().__init__(f"no valid verdict after {len(attempts)} attempt(s): {attempts[-1]}")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", normalise(text)).strip().lower()


def verdict_problems(verdict: JudgeVerdict, reply: str) -> list[str]:
    """Checks the schema cannot express: quotes must be the trainee's words; high scores need them."""
    haystack = _squash(reply)
    problems = []
    for dimension in Dimension:
        item: DimensionVerdict = getattr(verdict, dimension.value)
        for quote in item.evidence:
            if _squash(quote).strip('"“”…. ') not in haystack:
                problems.append(f"{dimension.value}: evidence {quote[:60]!r} is not in the trainee's reply")
        if item.score is not None and item.score >= 2 and not item.evidence:
            problems.append(f"{dimension.value}: a score of {item.score} needs evidence quoted from the reply")
    for flag in verdict.red_flags:
        if _squash(flag.quote).strip('"“”…. ') not in haystack:
            problems.append(f"red flag {flag.flag.value}: quote {flag.quote[:60]!r} is not in the trainee's reply")
    return problems


def system_template(rubric: Rubric) -> str:
    """The judge's system prompt from the rubric file, with only `{persona}` left to fill per call."""
    dimensions = "\n\n".join(
        f"## {d.value} ({spec.name})\n" + "\n".join(f"- {level}: {text}" for level, text in sorted(spec.levels.items()))
        for d, spec in rubric.dimensions.items())
    flags = "\n".join(f"- {f.value}: {spec.description}" for f, spec in rubric.red_flags.items())
    schema = json.dumps(JudgeVerdict.model_json_schema(), separators=(",", ":"))
    escape = lambda text: text.replace("{", "{{").replace("}", "}}")  # noqa: E731
    return prompt_file(PROMPT).format(dimensions=escape(dimensions), red_flags=escape(flags),
                                                     schema=escape(schema), persona="{persona}")


def system_prompt(template: str, context: GradingContext) -> str:
    persona = f"{context.persona.name}: {context.persona.situation}".strip(": ") or "(not given)"
    return template.format(persona=persona)


def user_prompt(context: GradingContext, reply: str, budget_tokens: int) -> str:
    """The conversation (trimmed from the oldest end to fit the budget) and the delimited reply."""
    lines = [f"{m.role.upper()}: {m.text}" for m in context.history]
    while len(lines) > 1 and count_tokens("\n".join(lines)) > budget_tokens:
        lines.pop(0)
    if len(lines) < len(context.history):
        lines.insert(0, f"(… {len(context.history) - len(lines)} earlier message(s) omitted …)")
    safe_reply = reply.replace("</trainee_reply>", "</ trainee_reply>")
    return ("# Conversation so far\n\n" + "\n".join(lines) +
            f"\n\n# Grade this trainee reply\n\n<trainee_reply>\n{safe_reply}\n</trainee_reply>")


def usage_of(raw: BaseMessage | None, role: str, model: str, prompt: list[tuple[str, str]]) -> CallUsage:
    meta = getattr(raw, "usage_metadata", None) if raw is not None else None
    if meta:
        return CallUsage(role=role, model=model, prompt_tokens=meta.get("input_tokens", 0),
                         completion_tokens=meta.get("output_tokens", 0))
    completion = count_tokens(raw.content if isinstance(raw, AIMessage) and isinstance(raw.content, str) else "")
    return CallUsage(role=role, model=model, prompt_tokens=count_message_tokens(prompt),
                     completion_tokens=completion, estimated=True)


def response_format(method: str) -> dict:
    """The `response_format` for `json_schema` (the verdict's schema, built once) or plain `json_mode`."""
    if method == "json_mode":
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "JudgeVerdict", "schema": VERDICT_SCHEMA}}


def structured_output(model: BaseChatModel, method: str) -> Runnable:
    """The chat model bound to a `response_format`; `read_answer` parses what it says.

    Not `with_structured_output`, and the format goes in `extra_body`: the parser chain and the SDK's walk
    over the schema as a typed parameter cost more CPU than the HTTP call itself in a large batch (0.55 of
    the machine's ceiling), and `JudgeVerdict` validates the answer anyway."""
    extra_body = {**(getattr(model, "extra_body", None) or {}), "response_format": response_format(method)}
    return model.bind(extra_body=extra_body)


def read_answer(raw: BaseMessage) -> dict:
    """The model's answer as `{"raw", "parsed", "parsing_error"}`: JSON (fenced or not) or the reason it is not."""
    text = raw.content if isinstance(raw.content, str) else "".join(
        part.get("text", "") if isinstance(part, dict) else str(part) for part in raw.content)
    try:
        parsed = parse_json_markdown(text)
    except (ValueError, TypeError) as exc:
        return {"raw": raw, "parsed": None, "parsing_error": exc}
    if not isinstance(parsed, dict):
        return {"raw": raw, "parsed": None, "parsing_error": ValueError("the answer is not a JSON object")}
    return {"raw": raw, "parsed": parsed, "parsing_error": None}


def quoted_sentences(verdict: JudgeVerdict, reply: str) -> list[str]:
    """The reply's sentences that hold the evidence for a score of 2 or more."""
    quotes = [_squash(q) for d in Dimension if (getattr(verdict, d.value).score or 0) >= 2
              for q in getattr(verdict, d.value).evidence]
    if not quotes:
        return []
    squashed = [(s, _squash(s)) for s in sentences(reply)]
    return [s for s, flat in squashed if any(q and q in flat for q in quotes)]


def in_own_words(verdict: JudgeVerdict, neutral: Neutral) -> JudgeVerdict:
    """The verdict with its quotes mapped from the neutral text the model read back to the trainee's words."""
    data = verdict.model_dump()
    for dimension in Dimension:
        data[dimension.value]["evidence"] = [neutral.original(q) for q in data[dimension.value]["evidence"]]
    for flag in data["red_flags"]:
        flag["quote"] = neutral.original(flag["quote"])
    return JudgeVerdict.model_validate(data)


class LLMJudge(Judge):
    """Grades with a chat model; raises `JudgeFailed` (never guesses) when it cannot."""

    name = "llm"

    def __init__(self, model: BaseChatModel, rubric: Rubric | None = None, model_name: str = "llm",
                 budget_tokens: int = 3000, method: str = "json_schema", merge_system: bool = False,
                 filler: Callable[[GradingContext, list[str]], list[str]] | None = None):
        """`filler` says which of the sentences the verdict quotes are neither on the customer's issue nor
        carry a rubric cue (the embedding judge's `filler_among`); a 2+ quoted only from them is capped."""
        self.filler = filler
        self.model, self.rubric = model, rubric or load_rubric()
        self.model_name, self.budget_tokens, self.method = model_name, budget_tokens, method
        self.merge_system = merge_system
        self.structured = structured_output(model, method)
        self.offline = OfflineJudge(self.rubric)
        self._hollow = hollow_patterns(self.rubric)
        self.template = system_template(self.rubric)

    def grade(self, context: GradingContext, reply: str) -> TurnGrade:
        dialogue = self._dialogue(context, reply)
        messages = next(dialogue)
        while True:
            try:
                messages = dialogue.send(self._call(messages, lambda m: read_answer(self.structured.invoke(m))))
            except StopIteration as done:
                return done.value

    async def agrade(self, context: GradingContext, reply: str) -> TurnGrade:
        """`grade` on the event loop, for batches that keep many calls in flight."""
        dialogue = self._dialogue(context, reply)
        messages = next(dialogue)
        while True:
            try:
                result = await self._acall(messages)
                messages = dialogue.send(result)
            except StopIteration as done:
                return done.value

    def _dialogue(self, context: GradingContext, reply: str) -> Generator[list[BaseMessage], dict, TurnGrade]:
        """The attempt loop without I/O: yields the messages to send, receives the structured result."""
        cleaned, removed = strip_grader_address(reply, self.rubric.cues.get("grader_address", []))
        neutral, shown = neutralise(cleaned, context.persona.name), neutral_context(context)
        messages: list[BaseMessage] = [SystemMessage(system_prompt(self.template, shown)),
                                       HumanMessage(user_prompt(shown, neutral.text, self.budget_tokens))]
        attempts: list[str] = []
        usage: list[CallUsage] = []
        for _ in range(MAX_ATTEMPTS):
            prompt = [(m.type, str(m.content)) for m in messages]
            result = yield messages
            raw, parsed, error = result.get("raw"), result.get("parsed"), result.get("parsing_error")
            usage.append(usage_of(raw, "judge", self.model_name, prompt))
            if error is None and isinstance(parsed, dict):
                try:
                    parsed = JudgeVerdict.model_validate(parsed)
                except ValidationError as exc:
                    parsed, error = None, exc
            problems = [f"invalid output: {str(error).splitlines()[0][:200]}"] if error or parsed is None else \
                verdict_problems(parsed, neutral.text)
            if not problems:
                verdict = in_own_words(parsed, neutral)
                filler = self.filler(context, quoted_sentences(verdict, cleaned)) if self.filler else []
                grade = self._to_grade(verdict, removed, len(attempts) + 1, filler)
                return grade.model_copy(update={"usage": usage})
            attempts.append("; ".join(problems))
            log.info("LLM judge re-ask %d: %s", len(attempts), attempts[-1])
            # The correction goes after the unchanged prompt (not after the bad answer): shorter, and
            # servers with a prompt cache reuse the prefix.
            messages = messages[:2] + [HumanMessage("Your previous answer was not usable: " + "; ".join(problems) +
                                                    ". Answer again as one JSON object in the required format, "
                                                    "quoting the reply verbatim.")]
        raise JudgeFailed(attempts, usage)

    def _call(self, messages: list[BaseMessage], invoke) -> dict:
        messages = fold_system(messages) if self.merge_system else messages
        try:
            return invoke(messages)
        except Exception as exc:
            retry = self._recover(exc)
            return retry if retry is not None else invoke(messages)

    async def _acall(self, messages: list[BaseMessage]) -> dict:
        messages = fold_system(messages) if self.merge_system else messages
        try:
            return read_answer(await self.structured.ainvoke(messages))
        except Exception as exc:
            retry = self._recover(exc)
            return retry if retry is not None else read_answer(await self.structured.ainvoke(messages))

    def _recover(self, exc: Exception) -> dict | None:
        """An unusable answer becomes a result to re-ask; a server without structured-output support gets
        plain JSON mode (returns None: call again); anything else propagates."""
        if isinstance(exc, ValidationError) or type(exc).__name__ in UNUSABLE_OUTPUT:
            usage = getattr(getattr(exc, "completion", None), "usage", None)
            raw = AIMessage("", usage_metadata={"input_tokens": usage.prompt_tokens,
                                                "output_tokens": usage.completion_tokens,
                                                "total_tokens": usage.total_tokens}) if usage else None
            return {"raw": raw, "parsed": None, "parsing_error": exc}
        if self.method == "json_mode" or not re.search(r"response_format|json_schema|tool", str(exc), re.I):
            raise exc
        log.warning("server rejected %s structured output (%s); switching to json_mode", self.method,
                    str(exc).splitlines()[0][:120])
        self.method = "json_mode"
        self.structured = structured_output(self.model, "json_mode")
        return None

    def _hollow_only(self, quotes: list[str]) -> list[str]:
        """The quotes, if every one of them is a hollow apology or a generic 'I understand' (rubric: empathy 1)."""
        return quotes if quotes and all(is_hollow(q, self._hollow) for q in quotes) else []

    def _to_grade(self, verdict: JudgeVerdict, removed: list[str], attempts: int, filler: list[str]) -> TurnGrade:
        scores = {d: getattr(verdict, d.value).score for d in Dimension}
        evidence: dict[str, list[str]] = {d.value: getattr(verdict, d.value).evidence for d in Dimension
                                          if getattr(verdict, d.value).evidence}
        flags: list[RedFlag] = []
        for item in verdict.red_flags:
            if item.flag not in flags:
                flags.append(item.flag)
            evidence.setdefault(item.flag.value, []).append(item.quote)
        notes = []
        hollow = self._hollow_only(evidence.get(Dimension.empathy.value, []))
        if hollow and (scores[Dimension.empathy] or 0) > 1:
            scores[Dimension.empathy] = 1
            notes.append("empathy capped at 1: its only evidence is a hollow formula (" + " | ".join(hollow) + ")")
            if RedFlag.hollow_apology not in flags:
                flags.append(RedFlag.hollow_apology)
                evidence.setdefault(RedFlag.hollow_apology.value, []).extend(hollow)
        for dimension in Dimension:
            quotes = evidence.get(dimension.value, [])
            padded = [q for q in quotes if any(_squash(q) in _squash(f) for f in filler)]
            if quotes and len(padded) == len(quotes) and (scores[dimension] or 0) > 1:
                scores[dimension] = 1
                notes.append(f"{dimension.value} capped at 1: its only evidence is filler (" + " | ".join(padded) + ")")
        if removed:
            notes.append("text addressed to the grader was ignored: " + " | ".join(removed))
        if attempts > 1:
            notes.append(f"the LLM judge needed {attempts} attempts")
        return TurnGrade(scores=scores, red_flags=flags, evidence=evidence,
                         reasons={d: getattr(verdict, d.value).reasoning for d in Dimension},
                         tip=self.offline.tip(scores, flags), judge=f"llm judge ({self.model_name})",
                         note="; ".join(notes) or None)
