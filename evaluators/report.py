"""The session report: per-dimension averages, best and worst turns, red flags, anger, outcome, tips."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel

from evaluators.rubric import Dimension, RedFlag, Rubric, load_rubric
from simulator.state import Session
from simulator.tokens import PriceTable


class TurnQuote(BaseModel):
    turn: int
    score: int
    quote: str


class DimensionSummary(BaseModel):
    name: str
    mean: float | None
    turns_graded: int
    best: TurnQuote | None
    worst: TurnQuote | None


class CoachingTip(BaseModel):
    turn: int
    dimension: str
    tip: str
    quote: str


class UsageSummary(BaseModel):
    """LLM spending for the session; cost is None when a model has no price in the table."""

    calls: int
    prompt_tokens: int
    completion_tokens: int
    estimated: bool
    cost_usd: float | None


class SessionReport(BaseModel):
    persona_id: str
    persona_name: str
    engine: str
    judges: list[str]
    outcome: str
    turns: int
    dimensions: dict[Dimension, DimensionSummary]
    red_flags: dict[RedFlag, int]
    anger_trajectory: list[float]
    tips: list[CoachingTip]
    notes: list[str]
    usage: UsageSummary
    simulator_events: dict[str, int]

    def to_markdown(self) -> str:
        lines = [f"# Defuse session report: {self.persona_name}", "",
                 f"- Outcome: **{self.outcome}** after {self.turns} turn(s)",
                 f"- Engine: {self.engine}; graded by: {', '.join(self.judges) or 'nobody (no turns)'}",
                 f"- Anger: {' → '.join(f'{a:g}' for a in self.anger_trajectory)}", "",
                 "## Scores (0 harmful · 1 hollow · 2 partial · 3 strong)", "",
                 "| dimension | mean | best turn | worst turn |", "|---|---|---|---|"]
        for summary in self.dimensions.values():
            mean = "n/a" if summary.mean is None else f"{summary.mean:.2f}"
            best = f"{summary.best.turn}: “{summary.best.quote}” ({summary.best.score})" if summary.best else "-"
            worst = f"{summary.worst.turn}: “{summary.worst.quote}” ({summary.worst.score})" if summary.worst else "-"
            lines.append(f"| {summary.name} | {mean} | {_cell(best)} | {_cell(worst)} |")
        flagged = {f.value: n for f, n in self.red_flags.items() if n}
        lines += ["", "## Red flags", "",
                  ", ".join(f"{k}: {v}" for k, v in flagged.items()) if flagged else "None.", "", "## Coaching tips", ""]
        lines += [f"{i}. Turn {t.turn} ({t.dimension}): {t.tip}  \n   You said: “{t.quote}”"
                  for i, t in enumerate(self.tips, 1)] or ["No turns to coach on."]
        if self.usage.calls:
            cost = "unknown (no price for this model)" if self.usage.cost_usd is None else f"${self.usage.cost_usd:.4f}"
            lines += ["", "## LLM usage", "",
                      f"{self.usage.calls} call(s), {self.usage.prompt_tokens:,} prompt + "
                      f"{self.usage.completion_tokens:,} completion tokens"
                      f"{' (some estimated with tiktoken)' if self.usage.estimated else ''}; estimated cost {cost}"]
        if self.simulator_events:
            lines += ["", "Simulator guards: " + ", ".join(f"{k}: {v}" for k, v in self.simulator_events.items())]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _quote(turn_text: str, quotes: list[str] | None) -> str:
    if quotes:
        return quotes[0]
    return turn_text if len(turn_text) <= 160 else turn_text[:157] + "…"


def build_report(session: Session, rubric: Rubric | None = None, prices: PriceTable | None = None) -> SessionReport:
    """Aggregate the graded turns of a session into the report the trainee reads at the end."""
    rubric = rubric or load_rubric()
    dimensions: dict[Dimension, DimensionSummary] = {}
    for dimension in Dimension:
        graded = [(t, t.grade.scores.get(dimension)) for t in session.turns if t.grade.scores.get(dimension) is not None]
        best = worst = None
        if graded:
            top = max(graded, key=lambda pair: (pair[1], -pair[0].number))
            low = min(graded, key=lambda pair: (pair[1], pair[0].number))
            best = TurnQuote(turn=top[0].number, score=top[1], quote=_quote(top[0].trainee, top[0].grade.evidence.get(dimension.value)))
            worst = TurnQuote(turn=low[0].number, score=low[1], quote=_quote(low[0].trainee, low[0].grade.evidence.get(dimension.value)))
        mean = round(sum(s for _, s in graded) / len(graded), 2) if graded else None
        dimensions[dimension] = DimensionSummary(name=rubric.dimensions[dimension].name, mean=mean,
                                                 turns_graded=len(graded), best=best, worst=worst)
    flags = Counter(flag for t in session.turns for flag in t.grade.red_flags)
    return SessionReport(
        persona_id=session.persona.id, persona_name=session.persona.name, engine=session.engine,
        judges=sorted({t.grade.judge for t in session.turns}),
        outcome=session.outcome.value if session.outcome else "in progress", turns=len(session.turns),
        dimensions=dimensions, red_flags={f: flags.get(f, 0) for f in RedFlag},
        anger_trajectory=session.anger_trajectory, tips=coaching_tips(session, rubric),
        notes=[f"turn {t.number}: {note}" for t in session.turns for note in t.notes],
        usage=usage_summary(session, prices or PriceTable.from_env()),
        simulator_events=dict(Counter(g.partition(":")[0] for t in session.turns for g in t.customer_guards)),
    )


def usage_summary(session: Session, prices: PriceTable) -> UsageSummary:
    calls = [u for t in session.turns for u in t.usage]
    costs = [prices.cost(u) for u in calls]
    return UsageSummary(calls=len(calls), prompt_tokens=sum(u.prompt_tokens for u in calls),
                        completion_tokens=sum(u.completion_tokens for u in calls),
                        estimated=any(u.estimated for u in calls),
                        cost_usd=None if None in costs else round(sum(costs), 6))


def coaching_tips(session: Session, rubric: Rubric, count: int = 3) -> list[CoachingTip]:
    """Up to `count` tips, each tied to the turn that most needed it; red flags first, then low scores."""
    candidates: list[tuple[int, int, CoachingTip]] = []
    for turn in session.turns:
        for flag in turn.grade.red_flags:
            quote = _quote(turn.trainee, turn.grade.evidence.get(flag.value))
            candidates.append((-1, turn.number, CoachingTip(turn=turn.number, dimension=flag.value,
                                                            tip=rubric.red_flags[flag].tip, quote=quote)))
        for dimension, score in turn.grade.scores.items():
            if score is not None and score < 3:
                quote = _quote(turn.trainee, turn.grade.evidence.get(dimension.value))
                candidates.append((score, turn.number, CoachingTip(turn=turn.number, dimension=dimension.value,
                                                                   tip=rubric.dimensions[dimension].tips[score], quote=quote)))
    tips: list[CoachingTip] = []
    seen: set[str] = set()
    for _, _, tip in sorted(candidates, key=lambda c: (c[0], c[1])):
        if tip.dimension not in seen:
            tips.append(tip)
            seen.add(tip.dimension)
        if len(tips) == count:
            break
    return tips
