"""What the embedding judge's heads see of one turn: meaning (embeddings) plus the cue judge's readings.

Pure apart from the encoder call. Before anything is embedded, text addressed to the grader and filler
sentences are removed, and names, titles and gendered pronouns are made neutral (`evaluators.neutral`), so
none of them can move a score: the heads never see them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from evaluators.embeddings import DIMENSION, SentenceEncoder
from evaluators.grade import GradingContext, TurnGrade
from evaluators.heads import NGRAM_PREFIX, LinearHead, Projection
from evaluators.neutral import neutralise
from evaluators.offline import REQUIRED_CUES, OfflineJudge, Signals
from evaluators.rubric import Dimension, RedFlag
from evaluators.text import content_stems, normalise, recent_words, sentences, strip_grader_address

EPITOME = ("emotional_reactions", "interpretations", "explorations")
SCORE_SLOTS = ("na", "0", "1", "2", "3")


def sentence_spans(text: str) -> list[tuple[int, int, str]]:
    """Each sentence of `text` with its character range."""
    spans, cursor = [], 0
    for sentence in sentences(text):
        start = text.find(sentence, cursor)
        if start < 0:
            continue
        spans.append((start, start + len(sentence), sentence))
        cursor = start + len(sentence)
    return spans


@dataclass(frozen=True)
class TurnReading:
    """One turn as the heads see it, plus what the judge needs to quote evidence."""

    reply: str  # as the heads read it: grader address removed, normalised, names and genders neutral
    removed: list[str]
    filler: list[str]
    reply_vector: np.ndarray
    customer_vector: np.ndarray
    sentences: list[tuple[str, np.ndarray]]  # each sentence in the trainee's words, with its vector
    strongest: np.ndarray  # `sentence_max` of those vectors
    signals: Signals
    flags: dict
    cue_grade: TurnGrade
    first_reply: bool


_WORD = re.compile(r"\b\w\w+\b|\?")


@lru_cache(maxsize=256)
def ngrams(text: str) -> frozenset[str]:
    """Lower-cased words (and '?') and their pairs: the phrases ("sorry to hear", "you ?") embeddings blur.
    Kept for recent texts: a dozen heads read the same reply."""
    words = _WORD.findall(text.lower())
    return frozenset(words) | {f"{a} {b}" for a, b in zip(words, words[1:])}


def phrase_vector(reply: str, vocabulary: list[str] | dict[str, int]) -> np.ndarray:
    """Which of a head's phrases (see `ngrams`) the reply contains, as 0/1 features. Pass the head's
    `phrase_index` rather than its vocabulary when grading: a reply has far fewer phrases than a head."""
    index = vocabulary if isinstance(vocabulary, dict) else {g: i for i, g in enumerate(vocabulary)}
    vector = np.zeros(len(index), dtype=np.float32)
    for gram in ngrams(reply):
        position = index.get(gram)
        if position is not None:
            vector[position] = 1.0
    return vector


SENTENCE_FEATURES = [f"smax{i}" for i in range(DIMENSION)]


def sentence_max(vectors: list[np.ndarray]) -> np.ndarray:
    """The element-wise maximum of the sentence vectors: what the strongest sentence says on each axis, which
    a mean over a long reply washes out."""
    return np.max(vectors, axis=0).astype(np.float32) if vectors else np.zeros(DIMENSION, np.float32)


def head_input(head: LinearHead, turn: np.ndarray, strongest: np.ndarray, text: str) -> np.ndarray:
    """A rubric or flag head's input: the turn features (`rubric_features`), then, if the head reads them,
    the sentence maximum (`strongest`, see `sentence_max`) and its phrases (`head.features` says which)."""
    parts = [turn]
    if reads_sentences(head, len(turn)):
        parts.append(strongest)
    parts.append(phrase_vector(text, head.phrase_index))
    return np.concatenate(parts)


def reads_sentences(head: LinearHead, turn_features: int) -> bool:
    """Whether the head's features go on, after the turn features, with the sentence maximum."""
    return len(head.features) > turn_features and head.features[turn_features] == SENTENCE_FEATURES[0]


def head_layout(turn_layout: list[str], sentences: bool, vocabulary: list[str]) -> list[str]:
    """The feature names `head_input` lays out for a head with these parts."""
    return turn_layout + (SENTENCE_FEATURES if sentences else []) + [NGRAM_PREFIX + g for g in vocabulary]


def epitome_vector(reply_vector: np.ndarray, customer_vector: np.ndarray, reply: str = "",
                   vocabulary: list[str] | dict[str, int] | None = None) -> np.ndarray:
    """EPITOME heads' input: what was said, how it relates to what the seeker/customer said, and which of
    the head's phrases it contains."""
    return np.concatenate([reply_vector, reply_vector * customer_vector, [float(reply_vector @ customer_vector)],
                           phrase_vector(reply, vocabulary or [])]).astype(np.float32)


def epitome_feature_names(vocabulary: list[str] | None = None) -> list[str]:
    return [f"r{i}" for i in range(DIMENSION)] + [f"rc{i}" for i in range(DIMENSION)] + ["cos_rc"] + \
        [NGRAM_PREFIX + g for g in vocabulary or []]


def epitome_probabilities(reading: TurnReading, heads: dict[str, LinearHead]) -> dict[str, dict[str, float]]:
    """EPITOME level probabilities ('0', '1', '2') per mechanism for this reply to this customer."""
    return {m: head.proba(epitome_vector(reading.reply_vector, reading.customer_vector, reading.reply,
                                         head.phrase_index)) for m, head in heads.items()}


_ADDRESSES_CUSTOMER = re.compile(r"\b(you|your|you're|you've|you'll|yours|yourself)\b", re.IGNORECASE)
# An order to the customer is addressed to them without saying "you" ("Read the terms."): never filler.
_ORDER = re.compile(r"^\W*(?:please\s+|just\s+)?(?:read|check|call|ring|send|ask|go|wait|stop|look|try|calm|"
                    r"contact|email|visit|fill|click|refer|see|note|listen|relax|be|do|don't|keep|give|tell|bring|"
                    r"return|follow|make|take|use|reset|restart|log|sign|submit|provide|attach|review|accept|pay|"
                    r"come|hold|understand|remember|consider|lower|watch|mind|settle)\b", re.IGNORECASE)


def filler_sentences(reply: str, context: GradingContext, signals: Signals, flags: dict) -> list[str]:
    """Sentences that say nothing to this customer about this issue: no rubric cue, no question, none of the
    customer's own words, not addressed to them ("thank you" alone does not count; an order does). Removed
    before grading, so padding cannot buy a score; never all of the reply. `signals`, `flags`: the cue
    judge's reading."""
    quotes = [h.quote for hits in [*signals.hits.values(), *flags.values()] for h in hits]
    customer_words = recent_words(context.customer_texts())
    found = [sentence for sentence in sentences(reply) if is_filler(sentence, quotes, customer_words)]
    return [] if len(found) == len(sentences(reply)) else found


def is_filler(sentence: str, cue_quotes: list[str], customer_words: set[str]) -> bool:
    """The filler test for one sentence, given the cue judge's quotes and the customer's content words."""
    if sentence.rstrip().endswith("?") or any(q in sentence or sentence in q for q in cue_quotes):
        return False
    addressed = _ADDRESSES_CUSTOMER.search(re.sub(r"\bthank you\b", "", sentence, flags=re.IGNORECASE))
    return not (content_stems(sentence) & customer_words or addressed or _ORDER.match(sentence))


def customer_vector(context: GradingContext, encoder: SentenceEncoder) -> np.ndarray:
    """The customer's last message, neutralised and embedded (the encoder keeps recent results)."""
    if not context.history:
        return np.zeros(DIMENSION, np.float32)
    return encoder.vector(neutralise(context.customer_texts()[-1], context.persona.name).text)


def read_turn(context: GradingContext, reply: str, encoder: SentenceEncoder, cue_judge: OfflineJudge) -> TurnReading:
    """Everything the heads and the judge need from one turn: the cue reading of the text as graded (read
    again only if filler was removed), one ONNX run for the reply (its sentences pooled from the same run)
    and one for the customer's last message."""
    cleaned, removed = strip_grader_address(reply, cue_judge.rubric.cues.get("grader_address", []))
    signals, flags = cue_judge.read(context, cleaned)
    filler = filler_sentences(cleaned, context, signals, flags)
    if filler:
        for sentence in filler:
            cleaned = cleaned.replace(sentence, " ")
        cleaned = re.sub(r"\s+", " ", cleaned).strip()
        signals, flags = cue_judge.read(context, cleaned)
    name = context.persona.name
    neutral = neutralise(cleaned, name)
    spans = sentence_spans(neutral.text)
    embedded = encoder.embed(neutral.text, [(start, end) for start, end, _ in spans])
    pairs = [(neutral.original(sentence), vector)
             for (_, _, sentence), vector in zip(spans, embedded.spans, strict=True)]
    return TurnReading(reply=neutral.text, removed=removed, filler=filler, reply_vector=embedded.vector,
                       customer_vector=customer_vector(context, encoder), sentences=pairs,
                       strongest=sentence_max([vector for _, vector in pairs]), signals=signals, flags=flags,
                       cue_grade=cue_judge.grade_read(context, signals, flags), first_reply=not context.trainee_texts())


def rubric_feature_names(components: int) -> list[str]:
    names = [f"pc{i}" for i in range(components)]
    names += [f"cue_{d.value}_{slot}" for d in Dimension for slot in SCORE_SLOTS]
    names += [f"flag_{f.value}" for f in RedFlag]
    names += [f"has_{cue}" for cue in REQUIRED_CUES]
    names += ["log_words", "questions", "targeted_questions", "overlap", "cos_rc", "max_sentence_cos_rc",
              "first_reply", "earlier_promise"]
    names += [f"epitome_{m}_{level}" for m in EPITOME for level in ("1", "2")]
    return names


def rubric_features(reading: TurnReading, epitome: dict[str, dict[str, float]], context: GradingContext,
                    projection: Projection) -> np.ndarray:
    """The rubric heads' input, laid out as `rubric_feature_names()`: the reply's meaning through the
    projection, then the cue readings, then scalars and the EPITOME signals."""
    s, grade = reading.signals, reading.cue_grade
    cue_slots = []
    for dimension in Dimension:
        score = grade.scores.get(dimension)
        cue_slots += [float((score is None and slot == "na") or str(score) == slot) for slot in SCORE_SLOTS]
    earlier = " ".join(context.trainee_texts())
    promised = bool(re.search(r"\b(i'll|i will|i'm going to|we'll|we will)\b", normalise(earlier), re.IGNORECASE))
    sentence_cos = [float(v @ reading.customer_vector) for _, v in reading.sentences] or [0.0]
    scalars = [np.log1p(s.word_count), len(s.questions), len(s.targeted_questions), len(s.overlap),
               float(reading.reply_vector @ reading.customer_vector), max(sentence_cos),
               float(reading.first_reply), float(promised)]
    levels = [epitome[m].get(level, 0.0) for m in EPITOME for level in ("1", "2")]
    flags = [float(f in reading.flags) for f in RedFlag]
    return np.concatenate([projection.apply(reading.reply_vector), cue_slots, flags,
                           [float(s.has(c)) for c in REQUIRED_CUES], scalars, levels]).astype(np.float32)
