"""The embedding judge: the cue judge's readings plus sentence meaning, combined by small trained heads.

The cue judge sees phrases; it misses empathy said in plain original words and is fooled by stock
phrases in odd places. This judge embeds the reply and the customer's last message (MiniLM, offline),
reads EPITOME-trained empathy signals from them, and lets one small head per dimension weigh all of it
against the cue readings. Heads guess; a judge must show its evidence, so: a 0 (harmful) needs a red
flag the cue judge can quote, a 2 or more needs a sentence to quote that is not a hollow formula, and
filler, names, genders and text addressed to the grader never reach the heads (`features.read_turn`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluators.embeddings import SentenceEncoder, default_encoder
from evaluators.features import (EPITOME, TurnReading, customer_vector, epitome_feature_names, epitome_probabilities,
                                 head_input, head_layout, is_filler, read_turn, reads_sentences, rubric_feature_names,
                                 rubric_features)
from evaluators.grade import GradingContext, TurnGrade
from evaluators.heads import HEADS_DIR, HeadFileError, LinearHead, Projection, ScoreHead, load_head
from evaluators.judge import Judge
from evaluators.offline import OfflineJudge, hollow_patterns, is_hollow
from evaluators.rubric import DEFAULT_RUBRIC, Dimension, RedFlag, Rubric, load_rubric
from evaluators.text import recent_words

JUDGE_NAME = "offline embedding judge v1"


def epitome_level(proba: dict[str, float]) -> int:
    """An EPITOME level: 0 unless the weak and strong levels together are likelier, then the likelier of them."""
    if proba.get("0", 0.0) >= 0.5:
        return 0
    return 2 if proba.get("2", 0.0) > proba.get("1", 0.0) else 1


class EmbeddingJudge(Judge):
    """Offline judge backed by sentence embeddings and trained heads (see `evaluators/heads/`)."""

    name = JUDGE_NAME

    def __init__(self, rubric: Rubric | None = None, encoder: SentenceEncoder | None = None,
                 heads_dir: Path = HEADS_DIR, source: Path = DEFAULT_RUBRIC):
        self.cue = OfflineJudge(rubric or load_rubric(source), source)
        self.rubric = self.cue.rubric
        self.encoder = encoder or default_encoder()
        self.encoder.check()
        self.epitome = {m: load_head(f"epitome_{m}", heads_dir) for m in EPITOME}
        for head in self.epitome.values():
            self._check(head, heads_dir, epitome_feature_names(head.vocabulary))
        self.projection: Projection = load_head("rubric_projection", heads_dir, Projection)
        self.layout = rubric_feature_names(len(self.projection.components))
        self.heads: dict[Dimension, ScoreHead] = {d: load_head(f"rubric_{d.value}", heads_dir, ScoreHead)
                                                  for d in Dimension}
        for score_head in self.heads.values():
            for member in score_head.members:
                self._check(member, heads_dir, self._layout_of(member), score_head.name)
        self.flag_heads = {f: load_head(f"flag_{f.value}", heads_dir) for f in RedFlag}
        for head in self.flag_heads.values():
            self._check(head, heads_dir, self._layout_of(head))
        self._hollow = hollow_patterns(self.rubric)

    def _layout_of(self, head: LinearHead) -> list[str]:
        """The layout `head_input` gives this head: the turn features, maybe the sentence maximum, its phrases."""
        return head_layout(self.layout, reads_sentences(head, len(self.layout)), head.vocabulary)

    @staticmethod
    def _check(head: LinearHead, folder: Path, features: list[str], file: str | None = None) -> LinearHead:
        if head.features != features:
            raise HeadFileError(str(folder / f"{file or head.name}.json"), "features",
                                f"the feature layout of {head.name} is not the one this version computes",
                                "retrain with `python -m evaluators.train_heads`")
        return head

    # -- signals ---------------------------------------------------------------------------
    def epitome_levels(self, reading: TurnReading) -> dict[str, dict[str, float]]:
        """EPITOME mechanism level probabilities ('0', '1', '2') for this reply to this customer."""
        return epitome_probabilities(reading, self.epitome)

    def read(self, context: GradingContext, reply: str) -> tuple[TurnReading, dict[str, dict[str, float]], np.ndarray]:
        """The turn as read, the EPITOME probabilities, and the rubric heads' feature vector."""
        reading = read_turn(context, reply, self.encoder, self.cue)
        epitome = self.epitome_levels(reading)
        return reading, epitome, rubric_features(reading, epitome, context, self.projection)

    def prepare(self, context: GradingContext) -> None:
        """Embed the customer's last message now (cached), so grading the reply to it embeds only the reply."""
        if context.history:
            customer_vector(context, self.encoder)

    # -- grading ---------------------------------------------------------------------------
    def grade(self, context: GradingContext, reply: str) -> TurnGrade:
        reading, epitome, x = self.read(context, reply)
        cue = reading.cue_grade
        flags, evidence = self._red_flags(reading, x)
        scores: dict[Dimension, int | None] = {}
        reasons: dict[Dimension, str] = {}
        for dimension in Dimension:
            head = self.heads[dimension]
            proba = head.proba([head_input(member, x, reading.strongest, reading.reply) for member in head.members])
            score, reason, quotes = self._settle(dimension, head.decode(proba), proba, cue, flags, evidence,
                                                 reading, x)
            scores[dimension], reasons[dimension] = score, reason
            if quotes:
                evidence[dimension.value] = list(dict.fromkeys(quotes))[:3]
        notes = [cue.note] if cue.note else []
        if reading.removed:
            notes.append("text addressed to the grader was ignored: " + " | ".join(reading.removed))
        if reading.filler:
            more = " …" if len(reading.filler) > 3 else ""
            notes.append("filler not graded: " + " | ".join(reading.filler[:3]) + more)
        return TurnGrade(scores=scores, red_flags=flags, evidence=evidence, reasons=reasons,
                         tip=self.cue.tip(scores, flags), judge=self.name,
                         note="; ".join(dict.fromkeys(notes)) or None)

    def filler_among(self, context: GradingContext, candidates: list[str]) -> list[str]:
        """Which of these sentences (quoted by another judge) say nothing to this customer about this issue.
        Each is read on its own: cheap enough for an LLM judge's every verdict in a large batch."""
        found: list[str] = []
        if not candidates:
            return found
        customer_words = recent_words(context.customer_texts())
        for sentence in candidates:
            if not is_filler(sentence, [], customer_words):
                continue  # a question, on the issue or addressed to the customer: no need to read its cues
            signals, flags = self.cue.read(context, sentence)
            quotes = [h.quote for hits in [*signals.hits.values(), *flags.values()] for h in hits]
            if is_filler(sentence, quotes, customer_words):
                found.append(sentence)
        return found

    def _content_sentences(self, reading: TurnReading) -> list[tuple[str, np.ndarray]]:
        """Sentences that can carry a score of 2 or more: not only a hollow formula (filler is already gone)."""
        useful = [h.quote for name, hits in reading.signals.hits.items() if name != "generic_understand" for h in hits]
        return [(sentence, vector) for sentence, vector in reading.sentences
                if not (is_hollow(sentence, self._hollow) and not any(q in sentence for q in useful))]

    def _red_flags(self, reading: TurnReading, x: np.ndarray) -> tuple[list[RedFlag], dict[str, list[str]]]:
        """Red flags by their heads (chosen over the cue phrases on the training turns), each with a quote:
        the cue judge's if it saw the same flag, else the sentence the head finds most telling."""
        flags, evidence = [], {}
        for flag, head in self.flag_heads.items():
            if head.proba(head_input(head, x, reading.strongest, reading.reply))["1"] < 0.5:
                continue
            quotes = reading.cue_grade.evidence.get(flag.value) or self._flag_sentence(head, reading, x)
            if quotes:
                flags.append(flag)
                evidence[flag.value] = quotes
        return flags, evidence

    def _standing_in(self, x: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """The turn's features with one sentence's meaning in place of the whole reply's."""
        swapped = x.copy()
        swapped[:len(self.projection.components)] = self.projection.apply(vector)
        return swapped

    def _flag_sentence(self, head: LinearHead, reading: TurnReading, x: np.ndarray) -> list[str]:
        best = (0.5, None)
        for sentence, vector in reading.sentences:
            p = head.proba(head_input(head, self._standing_in(x, vector), vector, sentence))["1"]
            if p >= best[0]:
                best = (p, sentence)
        return [best[1]] if best[1] else []

    def _settle(self, dimension: Dimension, score: int | None, proba: dict[str, float], cue: TurnGrade,
                flags: list[RedFlag], flag_evidence: dict[str, list[str]], reading: TurnReading,
                x: np.ndarray) -> tuple[int | None, str, list[str]]:
        """The head's score, held to the rules a judge must keep, with its reason and quotes: a 0 needs
        a red flag with its quote, a 2 or more a sentence that is neither filler nor hollow."""
        cue_score, cue_reason = cue.scores.get(dimension), cue.reasons.get(dimension, "")
        cue_quotes = cue.evidence.get(dimension.value, [])
        confidence = f"p={max(proba.values()):.2f}"
        if score == 0 and cue_score != 0 and not flags:
            score = 1
        if score is None:
            return None, cue_reason if cue_score is None else f"not applicable yet at this point ({confidence})", []
        if score == cue_score:
            return score, f"{cue_reason} (the embedding head agrees, {confidence})", cue_quotes
        quotes = cue_quotes
        if score == 0 and not quotes:
            quotes = [q for flag in flags for q in flag_evidence[flag.value]]
        if score >= 2 and (cue_score or 0) < 2:
            best = self._best_sentence(dimension, score, self._content_sentences(reading), x)
            if best is None:
                return 1, f"{cue_reason}; no sentence on the customer's issue carries more", cue_quotes
            quotes = [best]
        if score >= 2 and dimension is Dimension.empathy and all(is_hollow(q, self._hollow) for q in quotes):
            return 1, "its only evidence is a hollow formula", quotes
        direction = "raised" if cue_score is None or score > cue_score else "lowered"
        return score, f"{direction} from the cue reading ({cue_reason}) by the embedding head, {confidence}", quotes

    def _best_sentence(self, dimension: Dimension, score: int, content: list[tuple[str, np.ndarray]],
                       x: np.ndarray) -> str | None:
        """The content sentence that, standing in for the whole reply, pushes the head furthest toward `score`."""
        if not content:
            return None
        best, best_push = None, -np.inf
        head = self.heads[dimension]
        for sentence, vector in content:
            standing_in = self._standing_in(x, vector)
            push = head.contribution([head_input(m, standing_in, vector, sentence) for m in head.members], str(score))
            if push > best_push:
                best, best_push = sentence, push
        return best
