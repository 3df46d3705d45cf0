"""Anger dynamics: (anger, graded turn, persona traits) -> new anger and maybe an outcome.

Pure and deterministic: the same inputs always give the same result, so the simulator
can be tested, replayed and calibrated without any model.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from evaluators.grade import TurnGrade
from simulator.persona import AngerTraits, Cue, MoodBand, Outcome

MAX_TURNS = 12
RED_FLAG_PENALTY = 0.35
GOOD_TURN = 0.15
POOR_TURN = -0.1
MAX_FALL = 3.0
MAX_RISE = 4.0
ESCALATE_AT = 10.0


def band(anger: float) -> MoodBand:
    """calm 0-3, tense 4-5, angry 6-7, furious 8-10."""
    if anger <= 3.5:
        return MoodBand.calm
    if anger <= 5.5:
        return MoodBand.tense
    if anger <= 7.5:
        return MoodBand.angry
    return MoodBand.furious


class MoodUpdate(BaseModel):
    """The result of one turn on the customer's mood, with the reasons in plain words."""

    model_config = ConfigDict(frozen=True)

    anger_before: float
    anger_after: float
    quality: float
    poor_streak: int
    outcome: Outcome | None
    reasons: list[str]


def matched_cues(cues: list[Cue], reply: str) -> list[Cue]:
    text = reply.lower()
    return [c for c in cues if any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in c.phrases)]


def turn_quality(grade: TurnGrade) -> float:
    """Applicable scores rescaled to [-1, 1], minus a penalty per red flag."""
    return round(max(-1.5, grade.quality() - RED_FLAG_PENALTY * len(grade.red_flags)), 3)


def update(anger: float, grade: TurnGrade, traits: AngerTraits, *, reply: str, triggers: list[Cue],
           soothers: list[Cue], poor_streak: int, plan_seen: bool, turn_number: int) -> MoodUpdate:
    """Move anger by the turn's quality, scaled by warmth (down) or volatility (up), then decide the outcome.

    `plan_seen` says whether a concrete plan (plan >= 2) was offered in this or an earlier turn:
    a customer only settles once they know what will happen.
    """
    quality = turn_quality(grade)
    reasons: list[str] = []
    if quality >= GOOD_TURN:
        delta = -min(MAX_FALL, quality * (1 + 2 * traits.warmth))
        reasons.append("handled well")
        poor_streak = 0
    elif quality <= POOR_TURN:
        delta = min(MAX_RISE, -quality * (1 + 2 * traits.volatility))
        reasons.append("handled poorly" + (f" ({', '.join(f.value for f in grade.red_flags)})" if grade.red_flags else ""))
        poor_streak += 1
    else:
        delta = 0.5 * traits.volatility
        reasons.append("nothing moved forward")
    for cue in matched_cues(triggers, reply):
        delta += cue.effect
        reasons.append(f"trigger: {cue.why}")
    if quality > POOR_TURN:
        for cue in matched_cues(soothers, reply):
            delta -= cue.effect
            reasons.append(f"soother: {cue.why}")
    after = round(min(10.0, max(0.0, anger + delta)), 1)
    return MoodUpdate(anger_before=anger, anger_after=after, quality=quality, poor_streak=poor_streak,
                      outcome=decide_outcome(after, traits, poor_streak, plan_seen, quality, turn_number),
                      reasons=reasons)


def decide_outcome(anger: float, traits: AngerTraits, poor_streak: int, plan_seen: bool, quality: float,
                   turn_number: int) -> Outcome | None:
    if anger >= ESCALATE_AT:
        return Outcome.escalated
    if poor_streak >= traits.patience:
        return Outcome.left
    if anger <= traits.resolve_at and plan_seen and quality > POOR_TURN:
        return Outcome.resolved
    if turn_number >= MAX_TURNS:
        return Outcome.left
    return None
