"""The offline judge: rubric cues plus conversation context, no model and no network.

Honest about its limits: it sees phrases, question marks and word overlap with what the
customer said, not meaning. It rewards only what it can quote, so every score comes with
the trainee's own words as evidence, and padding a reply with filler earns nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from evaluators.grade import GradingContext, TurnGrade
from evaluators.judge import Judge
from evaluators.rubric import DEFAULT_RUBRIC, Dimension, RedFlag, Rubric, load_rubric
from evaluators.text import CueHit, content_stems, find_cues, mask, normalise, recent_words, sentences
from simulator.errors import DataFileError

REQUIRED_CUES = (
    "dismiss", "invalidate", "feeling", "acknowledge", "validate", "check_understanding", "thanks",
    "ownership", "question_opener", "generic_question", "help_offer", "break_down", "collaborative",
    "defensive", "process_push", "concrete_action", "vague_action", "refuse", "time", "honest_limits",
    "agreement", "options", "ownership_future", "others_will", "passive_future", "channel", "confirmation",
    "broken_commitment", "grader_address", "investigated",
)
JUDGE_NAME = "offline cue judge v1"
_DETAIL_WORDS = re.compile(
    r"\b(when|which|where|how long|how often|what happened|what time|what date|exactly|specifically|"
    r"what would|what matters|what outcome|what do you need|what's most important|what is most important|"
    r"deadline|budget)\b", re.IGNORECASE)
_DISTRESS = re.compile(r"!|\b[A-Z]{3,}\b|\b(angry|furious|ridiculous|unacceptable|disgrace|fed up|sick of|"
                       r"upset|worried|scared|terrible|awful|never again|joke)\b", re.IGNORECASE)
HOLLOW_GENERIC = r"i (completely |totally |fully )?understand (your|the) (problem|frustration|concern|issue|situation)s?"
_FIRST_PERSON_FUTURE = re.compile(r"i('ll| will|'m going to| am going to)\b", re.IGNORECASE)
_BARE_SORRY = re.compile(r"^(i'?m |we'?re |i am |we are )?(so |very |really |terribly )?(sorry|apologies)[.!]*$",
                         re.IGNORECASE)


def hollow_patterns(rubric: Rubric) -> list[str]:
    """The hollow formulas (rubric: empathy 1): the hollow-apology cues and the generic 'I understand your …'."""
    return rubric.red_flags[RedFlag.hollow_apology].cues + [HOLLOW_GENERIC]


def is_hollow(text: str, patterns: list[str]) -> bool:
    """Whether `text` holds a hollow formula (`patterns`: `hollow_patterns`)."""
    return bool(find_cues(normalise(text), patterns))


class RubricCueError(DataFileError):
    pass


@dataclass
class Signals:
    """What the judge found in one reply, each kind with its quotes."""

    hits: dict[str, list[CueHit]] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)
    targeted_questions: list[str] = field(default_factory=list)
    overlap: set[str] = field(default_factory=set)
    text: str = ""

    @property
    def word_count(self) -> int:
        return len(self.text.split())

    def has(self, name: str) -> bool:
        return bool(self.hits.get(name))

    def quotes(self, *names: str) -> list[str]:
        found: list[str] = []
        for name in names:
            for hit in self.hits.get(name, []):
                if hit.quote not in found:
                    found.append(hit.quote)
        return found


class OfflineJudge(Judge):
    """Cue/lexicon judge over the rubric file's cue lists."""

    name = JUDGE_NAME

    def __init__(self, rubric: Rubric | None = None, source: Path = DEFAULT_RUBRIC):
        self.rubric = rubric or load_rubric(source)
        missing = [name for name in REQUIRED_CUES if not self.rubric.cues.get(name)]
        if missing:
            raise RubricCueError(str(source), "cues", f"missing cue groups: {', '.join(missing)}",
                                 "add each group as a list of phrases (see defuse-core.yaml)")

    # -- signals ---------------------------------------------------------------------------
    def read(self, context: GradingContext, reply: str) -> tuple[Signals, dict[RedFlag, list[CueHit]]]:
        text = normalise(reply).strip()
        flags: dict[RedFlag, list[CueHit]] = {}
        for flag, spec in self.rubric.red_flags.items():
            hits = find_cues(text, spec.cues)
            if hits:
                flags[flag] = hits
        generic = find_cues(text, [HOLLOW_GENERIC])
        # Positive cues are read from the reply with hollow formulas blanked out.
        masked = mask(text, flags.get(RedFlag.hollow_apology, []) + generic + flags.get(RedFlag.calm_down, []))
        signals = Signals(text=masked)
        for name in REQUIRED_CUES:
            hits = find_cues(masked if name not in ("invalidate", "dismiss", "grader_address") else text,
                             self.rubric.cues[name], original=text)
            if hits:
                signals.hits[name] = hits
        if generic:
            signals.hits["generic_understand"] = generic
        bare = [s for s in sentences(text) if _BARE_SORRY.match(s)]
        if bare and not (signals.has("feeling") or signals.has("acknowledge") or signals.has("ownership")):
            flags.setdefault(RedFlag.hollow_apology, []).extend(CueHit("bare sorry", 0, 0, s) for s in bare)
        customer_words = recent_words(context.customer_texts())
        signals.overlap = content_stems(masked) & customer_words
        generic_questions = {h.quote for h in signals.hits.get("generic_question", []) + signals.hits.get("process_push", [])}
        checks = {h.quote for h in signals.hits.get("check_understanding", [])}
        openers = {h.quote for h in signals.hits.get("question_opener", [])}
        for sentence in sentences(text):
            if not (sentence.rstrip().endswith("?") or any(sentence in q or q in sentence for q in openers)):
                continue
            if any(sentence in q or q in sentence for q in generic_questions | checks):
                continue
            signals.questions.append(sentence)
            if _DETAIL_WORDS.search(sentence) or content_stems(sentence) & customer_words:
                signals.targeted_questions.append(sentence)
        return signals, flags

    # -- grading ---------------------------------------------------------------------------
    def grade(self, context: GradingContext, reply: str) -> TurnGrade:
        return self.grade_read(context, *self.read(context, reply))

    def grade_read(self, context: GradingContext, signals: Signals, flags: dict[RedFlag, list[CueHit]]) -> TurnGrade:
        """`grade` from signals already read (the embedding judge reads once and shares them)."""
        scores: dict[Dimension, int | None] = {}
        reasons: dict[Dimension, str] = {}
        evidence: dict[str, list[str]] = {}
        for dimension, rule in (
            (Dimension.perspective, self._perspective),
            (Dimension.facilitator, self._facilitator),
            (Dimension.empathy, self._empathy),
            (Dimension.plan, self._plan),
            (Dimension.follow_through, self._follow_through),
        ):
            score, reason, quotes = rule(signals, flags, context)
            scores[dimension] = score
            reasons[dimension] = reason
            if quotes:
                evidence[dimension.value] = list(dict.fromkeys(quotes))[:3]
        for flag, hits in flags.items():
            evidence[flag.value] = list(dict.fromkeys(h.quote for h in hits))[:3]
        note = None
        if signals.has("grader_address"):
            note = "the reply addresses the grader; that text earns nothing"
        red_flags = [f for f in RedFlag if f in flags]
        return TurnGrade(scores=scores, red_flags=red_flags, evidence=evidence, reasons=reasons,
                         tip=self.tip(scores, red_flags), judge=self.name, note=note)

    def tip(self, scores: dict[Dimension, int | None], red_flags: list[RedFlag]) -> str:
        """One tip: the first red flag's, else the weakest applicable dimension's."""
        if red_flags:
            return self.rubric.red_flags[red_flags[0]].tip
        applicable = [(s, i, d) for i, (d, s) in enumerate(scores.items()) if s is not None and s < 3]
        if not applicable:
            return "Strong turn. Keep the same approach: listen, own it, and make the next step concrete."
        score, _, dimension = min(applicable)
        return self.rubric.dimensions[dimension].tips[score]

    @staticmethod
    def _perspective(s: Signals, flags: dict, _context: GradingContext) -> tuple[int, str, list[str]]:
        harmful = [f for f in (RedFlag.blame, RedFlag.argue, RedFlag.calm_down, RedFlag.sarcasm_or_insult,
                               RedFlag.patronising) if f in flags]
        if harmful or s.has("invalidate"):
            quotes = [h.quote for f in harmful for h in flags[f]] + s.quotes("invalidate")
            return 0, f"confrontational: {', '.join(f.value for f in harmful) or 'invalidates the customer'}", quotes
        if RedFlag.policy_hiding in flags or s.has("defensive") or s.has("generic_understand") and re.search(
                r"\bbut\b", " ".join(s.quotes("generic_understand")), re.IGNORECASE):
            quotes = [h.quote for h in flags.get(RedFlag.policy_hiding, [])] + s.quotes("defensive", "generic_understand")
            return 1, "defensive or hides behind policy", quotes
        if s.word_count < 4:
            return 1, "too short to engage with the issue", []
        if s.has("collaborative") or s.has("ownership"):
            return 3, "owns it and turns toward solving it together", s.quotes("collaborative", "ownership")
        on_issue = s.overlap or s.questions or s.has("concrete_action") or s.has("acknowledge") or s.has("ownership")
        if on_issue:
            return 2, "non-defensive and on the issue", []
        return 1, "neutral, not yet on the customer's issue", []

    @staticmethod
    def _facilitator(s: Signals, _flags: dict, _context: GradingContext) -> tuple[int, str, list[str]]:
        if s.has("dismiss"):
            return 0, "dismisses or passes the customer on", s.quotes("dismiss")
        helps = s.has("help_offer") or s.has("investigated")
        steering = s.has("break_down") or s.has("options") or (s.has("concrete_action") and helps)
        if s.targeted_questions and (helps or steering or len(s.targeted_questions) >= 2):
            return 3, "targeted question(s) and takes the lead", s.targeted_questions[:2] + s.quotes("help_offer")
        if helps and steering and s.has("concrete_action"):
            return 3, "takes charge and steers toward a solution", s.quotes("investigated", "help_offer", "break_down",
                                                                           "options")
        if s.questions or helps or s.has("concrete_action") or s.has("options"):
            quotes = s.questions[:1] + s.quotes("help_offer", "options", "concrete_action")
            return 2, "asks a question or offers to take the lead", quotes
        return 1, "no question and no steering", []

    @staticmethod
    def _empathy(s: Signals, flags: dict, context: GradingContext) -> tuple[int, str, list[str]]:
        if s.has("invalidate") or RedFlag.calm_down in flags:
            return 0, "invalidates the customer's feeling", s.quotes("invalidate") or [h.quote for h in flags[RedFlag.calm_down]]
        feeling = s.has("feeling")
        specific = len(s.overlap) >= 2 or (feeling and len(s.overlap) >= 1)
        framing = s.has("acknowledge") or s.has("validate") or s.has("check_understanding")
        extras = [n for n in ("validate", "check_understanding", "thanks", "ownership") if s.has(n)]
        first_name = context.persona.name.split()[0].lower() if context.persona.name.strip() else ""
        named = bool(first_name) and re.search(rf"\b{re.escape(first_name)}\b", s.text, re.IGNORECASE)
        distressed = bool(context.history) and bool(_DISTRESS.search(context.customer_texts()[-1]))
        any_warmth = feeling or framing or s.has("thanks") or s.has("generic_understand")
        cold = [f for f in (RedFlag.policy_hiding, RedFlag.argue, RedFlag.blame) if f in flags]
        if distressed and not any_warmth and (s.has("process_push") or s.has("dismiss") or cold):
            return 0, "pushes process or policy while ignoring the customer's distress", \
                s.quotes("process_push", "dismiss") + [h.quote for f in cold for h in flags[f]]
        quotes = s.quotes("acknowledge", "validate", "ownership", "check_understanding", "feeling", "thanks")
        if feeling and specific and (extras or (framing and named)):
            return 3, "names the situation and the feeling, and validates, checks, thanks or owns it", quotes
        if (feeling and specific) or ((feeling or specific) and (framing or extras)):
            return 2, "acknowledges the specific situation or feeling", quotes
        if s.has("ownership"):
            return 2, "a full-sentence apology that owns the problem", quotes
        if RedFlag.hollow_apology in flags or s.has("generic_understand"):
            return 1, "generic or hollow acknowledgement", [h.quote for h in flags.get(RedFlag.hollow_apology, [])] + s.quotes("generic_understand")
        return 1, "no acknowledgement of the customer's situation or feeling", quotes[:1]

    @staticmethod
    def _plan(s: Signals, flags: dict, context: GradingContext) -> tuple[int | None, str, list[str]]:
        if RedFlag.over_promise in flags:
            return 0, "promises what cannot be guaranteed", [h.quote for h in flags[RedFlag.over_promise]]
        concrete = s.has("concrete_action") or s.has("options")
        if s.has("refuse") and not concrete:
            return 0, "refuses with no path forward", s.quotes("refuse")
        if concrete:
            quotes = s.quotes("concrete_action", "options", "time", "agreement", "honest_limits")
            if s.has("time") and (s.has("agreement") or s.has("honest_limits")):
                return 3, "concrete step(s) with timing, limits or agreement", quotes
            return 2, "one concrete next step", quotes
        if s.has("vague_action"):
            return 1, "vague about what happens next", s.quotes("vague_action")
        if not context.trainee_texts() and s.questions:
            return None, "not applicable yet: still understanding the problem", []
        return 1, "no plan offered", []

    @staticmethod
    def _follow_through(s: Signals, flags: dict, context: GradingContext) -> tuple[int | None, str, list[str]]:
        earlier = " ".join(context.trainee_texts())
        promised_before = bool(earlier) and bool(re.search(r"\b(i'll|i will|i'm going to|we'll|we will)\b",
                                                          normalise(earlier), re.IGNORECASE))
        if promised_before and (s.has("broken_commitment") or s.has("dismiss")):
            return 0, "contradicts or drops an earlier commitment", s.quotes("broken_commitment", "dismiss")
        owns = s.has("ownership_future") or any(
            _FIRST_PERSON_FUTURE.match(s.text[h.start:h.end]) for h in s.hits.get("concrete_action", []))
        quotes = s.quotes("ownership_future", "others_will", "time", "channel", "confirmation")
        if owns and s.has("time") and s.has("channel") and s.has("confirmation"):
            return 3, "owns the next contact with time, channel and a confirmation", quotes
        if owns or s.has("others_will"):
            return 2, "says who will do what", quotes
        if s.has("passive_future") or s.has("vague_action"):
            return 1, "no ownership of what happens next", s.quotes("passive_future", "vague_action")
        if s.has("concrete_action") or s.has("options"):
            return 1, "a plan with nobody named to carry it out", []
        if promised_before:
            return 1, "an earlier commitment is in play, and this reply does not carry it forward", []
        return None, "no commitment in play yet", []

