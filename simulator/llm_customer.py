"""The LLM customer: persona and mood rendered into a prompt file, streamed, and guarded.

Each guard is a detector plus one regeneration with a corrective note; every firing is logged
and recorded on the reply. If the regeneration still fails, the offline customer's line is
used for that turn, so the trainee always gets an in-character answer.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage

from evaluators.grade import CallUsage, TurnGrade
from simulator.customer import Customer, CustomerReply, OfflineCustomer, classify_move, facts_earned
from simulator.llm import fold_system, prompt_file
from simulator.mood import MoodUpdate, band
from simulator.persona import MoodBand, Move, Outcome
from simulator.state import Session
from simulator.tokens import count_message_tokens, count_tokens

PROMPT = Path(__file__).resolve().parent / "prompts" / "customer.md"
log = logging.getLogger(__name__)

BAND_GUIDANCE = {
    MoodBand.furious: "You are furious: short, sharp sentences; you do not accept anything vague; no thanks.",
    MoodBand.angry: "You are angry: impatient and sceptical; you want specifics before you soften.",
    MoodBand.tense: "You are tense but listening: guarded, ready to move forward if the agent is concrete.",
    MoodBand.calm: "You are calming down: still firm about what you need, but willing to agree to a clear plan.",
}
ENDINGS = {
    None: "The conversation is not over: do not say goodbye and do not declare the problem solved.",
    Outcome.resolved: "You are now satisfied enough: accept the plan and close the conversation politely.",
    Outcome.escalated: "You have had enough: demand a manager or threaten to go public or leave, and end it.",
    Outcome.left: "You give up on this agent: say you are taking your business elsewhere, and end it.",
}
GUARDS = {
    "role_reversal": re.compile(r"\bhow (can|may) i (help|assist) you\b|\bis there anything (else )?i can (help|do)\b|"
                                r"\bthank you for (contacting|calling) us\b|\bas your (agent|representative)\b", re.I),
    "character_break": re.compile(r"\bas an ai\b|\blanguage model\b|\bi'?m an? (ai|assistant|chatbot|bot)\b|"
                                  r"\brole-?play\b|\bsimulation\b|\bi cannot (pretend|continue)\b", re.I),
    "too_calm": re.compile(r"\b(thank you so much|that'?s (perfect|wonderful|great)|no problem( at all)?|"
                           r"i appreciate (your|all your) help|you'?ve been (very|so) helpful|all good)\b", re.I),
    "early_end": re.compile(r"\b(good ?bye|bye now|have a (nice|good|great) day|that'?s all i needed|"
                            r"problem solved|all sorted)\b", re.I),
}
REPEAT_SIMILARITY = 0.85
FIXES = {
    "role_reversal": "You are the CUSTOMER, not the agent. Do not offer help; say what you need.",
    "character_break": "Stay in character as the customer. Never mention AI, models or role-play.",
    "too_calm": "You are still {band} (anger {anger}/10). Do not sound satisfied or grateful yet.",
    "early_end": "The conversation is not over. Do not say goodbye or declare the problem solved.",
    "repetition": "Do not repeat your earlier message; react to what the agent just said.",
    "empty": "Write the customer's message; it must not be empty.",
}


def guard_failures(text: str, session: Session, mood: MoodUpdate) -> list[str]:
    """Which guards a drafted customer message trips, given the mood it must express."""
    failures = []
    if not text.strip():
        return ["empty"]
    for name in ("role_reversal", "character_break"):
        if GUARDS[name].search(text):
            failures.append(name)
    if band(mood.anger_after) in (MoodBand.angry, MoodBand.furious) and GUARDS["too_calm"].search(text):
        failures.append("too_calm")
    if mood.outcome is None and GUARDS["early_end"].search(text):
        failures.append("early_end")
    previous = [m.text.lower() for m in session.messages if m.role == "customer"][-3:]
    if any(difflib.SequenceMatcher(None, text.lower(), p).ratio() >= REPEAT_SIMILARITY for p in previous):
        failures.append("repetition")
    return failures


def _bullets(items: list[str]) -> str:
    return "; ".join(items) if items else "(none)"


def render_system(session: Session, mood: MoodUpdate, earned: list[str]) -> str:
    persona = session.persona
    current = band(mood.anger_after)
    known = [f.line for f in persona.hidden_facts if f.id in session.revealed or f.id in earned]
    unknown = [f.fact for f in persona.hidden_facts if f.id not in session.revealed and f.id not in earned]
    facts = ("You may bring up: " + _bullets(known) + ". ") if known else ""
    facts += ("Keep these to yourself unless the agent asks a good question about them: " + _bullets(unknown)) \
        if unknown else "You have shared everything you know."
    voice = " | ".join(persona.lines.by_mood[current][:2] + persona.lines.by_move[Move.neutral][:1])
    return prompt_file(PROMPT).format(
        name=persona.name, title=persona.title, industry=persona.industry, typology=persona.typology,
        situation=persona.situation, wants=_bullets(persona.wants), anger=f"{mood.anger_after:g}",
        band=current.value, mood_reasons="It changed because: " + ", ".join(mood.reasons) + ".",
        band_guidance=BAND_GUIDANCE[current], facts=facts, may_offer=_bullets(persona.trainee_brief.may_offer),
        not_negotiable=_bullets(persona.trainee_brief.not_negotiable), voice=voice, ending=ENDINGS[mood.outcome])


def conversation(session: Session, reply: str, system: str, budget: int) -> list[BaseMessage]:
    """System prompt + the dialogue (customer = AI, trainee = human), trimmed oldest-first to `budget` tokens."""
    turns: list[BaseMessage] = [AIMessage(m.text) if m.role == "customer" else HumanMessage(m.text)
                                for m in session.messages] + [HumanMessage(reply)]
    dropped = 0
    as_pairs = lambda ms: [("system", system)] + [(m.type, str(m.content)) for m in ms]  # noqa: E731
    while len(turns) > 2 and count_message_tokens(as_pairs(turns)) > budget:
        turns.pop(0)
        dropped += 1
    if dropped:
        summary = (f"(Earlier in this conversation, {dropped} message(s) not shown. Facts already shared: "
                   f"{_bullets([f.fact for f in session.persona.hidden_facts if f.id in session.revealed])}.)")
        system = system + "\n\n" + summary
    if isinstance(turns[0], AIMessage):
        turns.insert(0, HumanMessage("(The agent answers your call.)"))
    return [SystemMessage(system), *turns]


class LLMCustomer(Customer):
    """Streams the customer's reply from a chat model; falls back to authored lines if guards keep failing."""

    name = "llm"

    def __init__(self, model: BaseChatModel, model_name: str = "llm", budget_tokens: int = 3000,
                 fallback: Customer | None = None, merge_system: bool = False):
        self.model, self.model_name, self.budget_tokens = model, model_name, budget_tokens
        self.merge_system = merge_system
        self.fallback = fallback or OfflineCustomer()

    def respond(self, session: Session, reply: str, grade: TurnGrade, mood: MoodUpdate) -> CustomerReply:
        final = None
        for final in self.stream(session, reply, grade, mood):
            pass
        assert isinstance(final, CustomerReply)
        return final

    def stream(self, session: Session, reply: str, grade: TurnGrade, mood: MoodUpdate) -> Iterator[str | CustomerReply]:
        """Yield the text so far as it arrives, then the final `CustomerReply`."""
        earned = [f.id for f in facts_earned(session.persona, session.revealed, reply, grade)]
        messages = conversation(session, reply, render_system(session, mood, earned), self.budget_tokens)
        guards: list[str] = []
        usage: list[CallUsage] = []
        text = ""
        for attempt in range(2):
            text = ""
            chunks: list[AIMessageChunk] = []
            for chunk in self.model.stream(fold_system(messages) if self.merge_system else messages):
                chunks.append(chunk)
                text += chunk.content if isinstance(chunk.content, str) else ""
                yield text
            text = clean(text)
            usage.append(self._usage(chunks, messages, text))
            failures = guard_failures(text, session, mood)
            if not failures:
                break
            guards.extend(failures)
            log.warning("customer guard(s) %s on attempt %d: %r", failures, attempt + 1, text[:120])
            fix = " ".join(FIXES[f].format(band=band(mood.anger_after).value, anger=f"{mood.anger_after:g}")
                           for f in failures)
            messages = [*messages, AIMessage(text or "(empty)"), HumanMessage(f"[Coach note, not the agent: {fix} "
                                                                             "Write the customer's message again.]")]
        else:
            offline = self.fallback.respond(session, reply, grade, mood)
            guards.append("fallback_to_authored_line")
            yield offline.text
            yield offline.model_copy(update={"guards": guards, "usage": usage})
            return
        yield CustomerReply(text=text, move=classify_move(grade), revealed=earned, lines=[text], guards=guards,
                            usage=usage)

    def _usage(self, chunks: list[AIMessageChunk], messages: list[BaseMessage], text: str) -> CallUsage:
        meta = next((c.usage_metadata for c in reversed(chunks) if getattr(c, "usage_metadata", None)), None)
        if meta:
            return CallUsage(role="customer", model=self.model_name, prompt_tokens=meta.get("input_tokens", 0),
                             completion_tokens=meta.get("output_tokens", 0))
        prompt = [(m.type, str(m.content)) for m in messages]
        return CallUsage(role="customer", model=self.model_name, prompt_tokens=count_message_tokens(prompt),
                         completion_tokens=count_tokens(text), estimated=True)


_TEMPLATE_TOKENS = re.compile(r"</?s>|\[/?INST\]|<<\/?SYS>>|<\|[a-z_]+\|>|<(start|end)_of_turn>(user|model)?")


def clean(text: str) -> str:
    """Drop chat-template tokens, a speaker prefix or surrounding quotes a model sometimes adds."""
    text = _TEMPLATE_TOKENS.sub(" ", text)
    text = re.sub(r"^\s*((?i:customer)|[A-Z][a-z]+ [A-Z][a-z]+)\s*:\s*", "", text.strip())
    return re.sub(r"[ \t]+", " ", text).strip().strip('"').strip()
