"""Aggregate a results file: graded turns (`defuse grade`) and played sessions (`defuse play`), one JSON per line.

Lines are parsed one at a time and folded into running tallies, so memory grows with the number of
personas and trainees, never with the number of lines. Parsing, summarising and rendering are pure;
`iter_results` and `write_csv` are the only functions that touch files.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from html import escape
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evaluators.grade import Score
from evaluators.rubric import Dimension, RedFlag
from simulator.persona import Outcome

UNKNOWN = "(unknown)"
ALL = "(all)"
FALLBACK_PREFIX = "graded offline:"
LEVELS = (0, 1, 2, 3)
OUTCOMES = tuple(o.value for o in Outcome)
# Guard names the LLM customer logs (simulator/llm_customer.py, simulator/session.py); others count as "other".
HEALTH_EVENTS = ("role_reversal", "character_break", "too_calm", "early_end", "repetition", "empty",
                 "fallback_to_authored_line", "customer_failed", "other")
MAX_SKIPPED_KEPT = 20  # skipped lines are all counted, but only the first few are kept to show


# --- input lines ---------------------------------------------------------------------------------------------

def _name(value: Any) -> str:
    """A persona or trainee as written: a string, or a persona brief's name/id; blank means unknown."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("id")
    text = "" if value is None else str(value).strip()
    return text or UNKNOWN


def _fell_back(note: str | None, notes: Iterable[str] = ()) -> bool:
    return any(n.startswith(FALLBACK_PREFIX) for n in [note or "", *notes])


class GradedTurnLine(BaseModel):
    """A `defuse grade` output line, with the persona it was graded for when the writer kept it."""

    model_config = ConfigDict(extra="ignore")

    id: str | int | None = None
    persona: str = UNKNOWN
    scores: dict[str, Score | None]
    red_flags: list[str] = Field(default_factory=list)
    judge: str = ""
    note: str | None = None

    @field_validator("persona", mode="before")
    @classmethod
    def _persona_name(cls, value: Any) -> str:
        return _name(value)

    @property
    def judge_fell_back(self) -> bool:
        return _fell_back(self.note)


class SessionTurnLine(BaseModel):
    """One turn of a played session: its grade plus what the simulator logged while answering it."""

    model_config = ConfigDict(extra="ignore")

    anger_before: float | None = None
    anger_after: float | None = None
    scores: dict[str, Score | None]
    red_flags: list[str] = Field(default_factory=list)
    judge: str = ""
    note: str | None = None
    notes: list[str] = Field(default_factory=list)
    customer_guards: list[str] = Field(default_factory=list)

    @property
    def judge_fell_back(self) -> bool:
        return _fell_back(self.note, self.notes)


class SessionLine(BaseModel):
    """A played session. Missing start/final anger is read off the turns (`defuse play --json` omits it)."""

    model_config = ConfigDict(extra="ignore")

    id: str | int | None = None
    persona: str = UNKNOWN
    trainee: str = UNKNOWN
    engine: str = ""
    outcome: Outcome
    start_anger: float | None = None
    final_anger: float | None = None
    turns: list[SessionTurnLine]

    @field_validator("persona", "trainee", mode="before")
    @classmethod
    def _names(cls, value: Any) -> str:
        return _name(value)

    @model_validator(mode="after")
    def _anger_from_turns(self) -> "SessionLine":
        if self.start_anger is None and self.turns:
            self.start_anger = self.turns[0].anger_before
        if self.final_anger is None and self.turns:
            self.final_anger = self.turns[-1].anger_after
        return self


class SkippedLine(BaseModel):
    line: int
    problem: str


ResultLine = GradedTurnLine | SessionLine | SkippedLine


def parse_line(raw: str, number: int) -> ResultLine | None:
    """One line -> a graded turn, a session, or a `SkippedLine` saying why; None for a blank line."""
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return SkippedLine(line=number, problem=f"not valid JSON ({exc.msg})")
    if not isinstance(data, dict):
        return SkippedLine(line=number, problem="not a JSON object")
    model = SessionLine if "turns" in data else GradedTurnLine if "scores" in data else None
    if model is None:
        return SkippedLine(line=number, problem="neither a graded turn (no 'scores') nor a played session (no 'turns')")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "line"
        return SkippedLine(line=number, problem=f"{where}: {first['msg']}")


def read_results(stream: TextIO) -> Iterator[ResultLine]:
    """Parse a results stream lazily, one line at a time (line numbers count blank lines too)."""
    for number, raw in enumerate(stream, 1):
        item = parse_line(raw, number)
        if item is not None:
            yield item


def iter_results(path: str | Path) -> Iterator[ResultLine]:
    """Parse a results file lazily; undecodable bytes become U+FFFD so one bad line cannot stop the run."""
    with open(path, encoding="utf-8", errors="replace") as stream:
        yield from read_results(stream)


# --- summary -------------------------------------------------------------------------------------------------

class RateStat(BaseModel):
    """`count` out of a denominator named by the field that holds it; `rate` is None when that is 0."""

    count: int
    rate: float | None


class DimensionStats(BaseModel):
    applicable: int
    null: int
    mean: float | None
    distribution: dict[int, int] = Field(description="score 0..3 -> graded turns with that score")


class SessionStats(BaseModel):
    sessions: int
    outcomes: dict[str, RateStat] = Field(description="outcome -> sessions, share of sessions")
    mean_start_anger: float | None
    mean_final_anger: float | None


class HealthStats(BaseModel):
    played_turns: int
    events: dict[str, RateStat] = Field(description="guard -> turns where it fired at least once, share of turns")


class GroupSummary(BaseModel):
    """Everything known about one persona (or all of them): graded turns count both kinds of line."""

    graded_turns: int
    dimensions: dict[str, DimensionStats]
    red_flags: dict[str, RateStat] = Field(description="flag -> graded turns with it, share of graded turns")
    judge_fallbacks: RateStat
    sessions: SessionStats
    health: HealthStats


class ResultsSummary(BaseModel):
    graded_lines: int
    session_lines: int
    skipped: int
    skipped_lines: list[SkippedLine] = Field(description=f"the first {MAX_SKIPPED_KEPT} skipped lines")
    overall: GroupSummary
    personas: dict[str, GroupSummary]
    trainees: dict[str, SessionStats]


def _rate(count: int, total: int) -> RateStat:
    return RateStat(count=count, rate=count / total if total else None)


def _ordered(known: Iterable[str], seen: Iterable[str]) -> list[str]:
    known = list(known)
    return known + sorted(set(seen) - set(known))


def _health_event(guard: str) -> str:
    if guard.startswith("customer_failed"):
        return "customer_failed"
    return guard if guard in HEALTH_EVENTS else "other"


class _SessionTally:
    def __init__(self) -> None:
        self.sessions = 0
        self.outcomes: Counter[str] = Counter()
        self.anger_sums = {"start": 0.0, "final": 0.0}
        self.anger_counts = {"start": 0, "final": 0}

    def add(self, line: SessionLine) -> None:
        self.sessions += 1
        self.outcomes[line.outcome.value] += 1
        for key, value in (("start", line.start_anger), ("final", line.final_anger)):
            if value is not None:
                self.anger_sums[key] += value
                self.anger_counts[key] += 1

    def freeze(self) -> SessionStats:
        mean = {k: self.anger_sums[k] / n if (n := self.anger_counts[k]) else None for k in self.anger_sums}
        return SessionStats(sessions=self.sessions,
                            outcomes={o: _rate(self.outcomes[o], self.sessions) for o in OUTCOMES},
                            mean_start_anger=mean["start"], mean_final_anger=mean["final"])


class _Tally:
    """Running counts for one group of lines, folded into a `GroupSummary` at the end."""

    def __init__(self) -> None:
        self.graded = 0
        self.scores: dict[str, Counter[int | None]] = defaultdict(Counter)
        self.flags: Counter[str] = Counter()
        self.fallbacks = 0
        self.sessions = _SessionTally()
        self.played_turns = 0
        self.events: Counter[str] = Counter()

    def add(self, line: GradedTurnLine | SessionLine) -> None:
        if isinstance(line, GradedTurnLine):
            self._grade(line)
            return
        self.sessions.add(line)
        for turn in line.turns:
            self._grade(turn)
            self.played_turns += 1
            self.events.update({_health_event(g) for g in turn.customer_guards})

    def _grade(self, turn: GradedTurnLine | SessionTurnLine) -> None:
        self.graded += 1
        for dimension, score in turn.scores.items():
            self.scores[dimension][score] += 1
        self.flags.update(set(turn.red_flags))
        self.fallbacks += turn.judge_fell_back

    def freeze(self) -> GroupSummary:
        dimensions = {}
        for name in _ordered((d.value for d in Dimension), self.scores):
            counts = self.scores.get(name, Counter())
            applicable = sum(counts[level] for level in LEVELS)
            total = sum(level * counts[level] for level in LEVELS)
            dimensions[name] = DimensionStats(applicable=applicable, null=counts[None],
                                              mean=total / applicable if applicable else None,
                                              distribution={level: counts[level] for level in LEVELS})
        return GroupSummary(
            graded_turns=self.graded, dimensions=dimensions,
            red_flags={f: _rate(self.flags[f], self.graded) for f in _ordered((f.value for f in RedFlag), self.flags)},
            judge_fallbacks=_rate(self.fallbacks, self.graded), sessions=self.sessions.freeze(),
            health=HealthStats(played_turns=self.played_turns,
                               events={e: _rate(self.events[e], self.played_turns) for e in HEALTH_EVENTS}))


def _by_name(name: str) -> tuple[bool, str]:
    """Alphabetical, case-insensitive, with "(unknown)" last."""
    return name == UNKNOWN, name.casefold()


def summarise(lines: Iterable[ResultLine]) -> ResultsSummary:
    """Fold parsed lines into per-persona, per-trainee and overall statistics in one pass."""
    overall, personas, trainees = _Tally(), defaultdict(_Tally), defaultdict(_SessionTally)
    kinds: Counter[str] = Counter()
    skipped: list[SkippedLine] = []
    for line in lines:
        if isinstance(line, SkippedLine):
            kinds["skipped"] += 1
            if len(skipped) < MAX_SKIPPED_KEPT:
                skipped.append(line)
            continue
        overall.add(line)
        personas[line.persona].add(line)
        if isinstance(line, SessionLine):
            kinds["session"] += 1
            trainees[line.trainee].add(line)
        else:
            kinds["graded"] += 1
    return ResultsSummary(graded_lines=kinds["graded"], session_lines=kinds["session"], skipped=kinds["skipped"],
                          skipped_lines=skipped, overall=overall.freeze(),
                          personas={name: personas[name].freeze() for name in sorted(personas, key=_by_name)},
                          trainees={name: trainees[name].freeze() for name in sorted(trainees, key=_by_name)})


def summarise_file(path: str | Path) -> ResultsSummary:
    return summarise(iter_results(path))


def _groups(summary: ResultsSummary) -> list[tuple[str, GroupSummary]]:
    return [(ALL, summary.overall), *summary.personas.items()]


def _seen_flags(summary: ResultsSummary) -> list[str]:
    return [f for f, stat in summary.overall.red_flags.items() if stat.count]


def _seen_events(summary: ResultsSummary) -> list[str]:
    return [e for e, stat in summary.overall.health.events.items() if stat.count]


# --- terminal text -------------------------------------------------------------------------------------------

def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _clip(text: str, width: int = 30) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to fit; the first is left-aligned, numbers right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return [fmt(header), *(fmt(r) for r in rows)]


def render_text(summary: ResultsSummary) -> str:
    """A compact report for the terminal: scores, red flags, outcomes, simulator health, skipped lines."""
    groups = _groups(summary)
    dims = list(summary.overall.dimensions)
    out = [f"{summary.graded_lines} graded turn line(s), {summary.session_lines} session(s), "
           f"{summary.overall.graded_turns} graded turn(s) in all, {summary.skipped} line(s) skipped", "",
           "Scores: mean (turns applicable); 0 harmful, 1 hollow, 2 partial, 3 strong"]
    out += _table(["persona", *dims, "judge fallback"],
                  [[_clip(n), *(f"{_num(g.dimensions[d].mean)} ({g.dimensions[d].applicable})" for d in dims),
                    _pct(g.judge_fallbacks.rate)] for n, g in groups])
    flags = _seen_flags(summary)
    out += ["", "Red flags: share of graded turns"]
    out += _table(["persona", "turns", *flags], [[_clip(n), str(g.graded_turns), *(_pct(g.red_flags[f].rate)
                                                                                  for f in flags)] for n, g in groups]) \
        if flags else ["none"]
    if summary.session_lines:
        out += ["", "Sessions: outcome share; mean anger start -> final"]
        rows = [("all" if n == ALL else f"persona {_clip(n)}", g.sessions) for n, g in groups if g.sessions.sessions]
        rows += [(f"trainee {_clip(n)}", s) for n, s in summary.trainees.items()]
        out += _table(["", "n", *OUTCOMES, "anger"],
                      [[label, str(s.sessions), *(_pct(s.outcomes[o].rate) for o in OUTCOMES),
                        f"{_num(s.mean_start_anger)} -> {_num(s.mean_final_anger)}"] for label, s in rows])
        events = _seen_events(summary)
        out += ["", "Simulator health: turns where a guard fired (share of played turns)"]
        out += _table(["persona", "turns", *events],
                      [[_clip(n), str(g.health.played_turns),
                        *(f"{g.health.events[e].count} ({_pct(g.health.events[e].rate)})" for e in events)]
                       for n, g in groups if g.health.played_turns]) if events else ["no guard fired"]
    if summary.skipped:
        more = summary.skipped - len(summary.skipped_lines)
        out += ["", "Skipped lines"] + [f"  line {s.line}: {s.problem}" for s in summary.skipped_lines]
        out += [f"  ... and {more} more"] if more else []
    return "\n".join(out) + "\n"


# --- CSV -----------------------------------------------------------------------------------------------------

CSV_COLUMNS = ("scope", "group", "metric", "key", "value")
CsvRow = tuple[str, str, str, str, int | float | None]


def _session_rows(scope: str, name: str, s: SessionStats) -> Iterator[CsvRow]:
    yield scope, name, "sessions", "", s.sessions
    for outcome, stat in s.outcomes.items():
        yield scope, name, "outcome_count", outcome, stat.count
        yield scope, name, "outcome_rate", outcome, stat.rate
    yield scope, name, "mean_start_anger", "", s.mean_start_anger
    yield scope, name, "mean_final_anger", "", s.mean_final_anger


def csv_rows(summary: ResultsSummary) -> Iterator[CsvRow]:
    """Tidy rows (scope, group, metric, key, value): `group` is a persona or trainee, `key` a dimension,
    score level, flag, outcome or guard; pivot on metric and key in a spreadsheet."""
    for metric, value in (("graded_lines", summary.graded_lines), ("session_lines", summary.session_lines),
                          ("skipped_lines", summary.skipped)):
        yield "file", ALL, metric, "", value
    for index, (name, g) in enumerate(_groups(summary)):
        scope = "persona" if index else "overall"
        yield scope, name, "graded_turns", "", g.graded_turns
        for dim, d in g.dimensions.items():
            yield scope, name, "applicable", dim, d.applicable
            yield scope, name, "null", dim, d.null
            yield scope, name, "mean", dim, d.mean
            for level, count in d.distribution.items():
                yield scope, name, f"score_{level}", dim, count
        for flag, stat in g.red_flags.items():
            yield scope, name, "red_flag_count", flag, stat.count
            yield scope, name, "red_flag_rate", flag, stat.rate
        yield scope, name, "judge_fallbacks", "", g.judge_fallbacks.count
        yield scope, name, "judge_fallback_rate", "", g.judge_fallbacks.rate
        yield from _session_rows(scope, name, g.sessions)
        yield scope, name, "played_turns", "", g.health.played_turns
        for event, stat in g.health.events.items():
            yield scope, name, "health_count", event, stat.count
            yield scope, name, "health_rate", event, stat.rate
    for name, s in summary.trainees.items():
        yield from _session_rows("trainee", name, s)


def _cell(value: int | float | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def write_csv(summary: ResultsSummary, path: str | Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        writer.writerows((*row[:4], _cell(row[4])) for row in csv_rows(summary))


# --- HTML with inline SVG charts -----------------------------------------------------------------------------

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D31", "#999999", "#332288")
SCORE_COLOURS = {"0": "#D55E00", "1": "#E69F00", "2": "#56B4E9", "3": "#009E73", "n/a": "#D9D9D9"}
OUTCOME_COLOURS = {"resolved": "#009E73", "escalated": "#D55E00", "left": "#E69F00", "abandoned": "#999999"}
LABEL_W, BAR_W, VALUE_W, ROW_H = 210, 380, 70, 16
CSS = """body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:980px;margin:2em auto;
padding:0 1em}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
.meta,.note{color:#555}.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:.9em;
height:.9em;margin-right:.3em;vertical-align:-.1em}table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 10px;
border-bottom:1px solid #eee;text-align:right}td:first-child,th:first-child{text-align:left}svg text{font:12px
system-ui,sans-serif;fill:#222}svg{display:block;margin:.5em 0 1em;max-width:100%;height:auto}"""


def _legend(colours: dict[str, str]) -> str:
    items = "".join(f'<span><i style="background:{c}"></i>{escape(n)}</span>' for n, c in colours.items())
    return f'<p class="legend">{items}</p>'


def _svg(height: int, body: list[str], label: str) -> str:
    width = LABEL_W + BAR_W + VALUE_W
    return (f'<svg role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}">' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" dominant-baseline="middle"{extra}>{escape(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, colour: str, title: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h}" fill="{colour}">'
            f"<title>{escape(title)}</title></rect>")


def _grouped_bars(groups: list[tuple[str, dict[str, float | None]]], colours: dict[str, str], max_value: float,
                  fmt: Callable[[float | None], str], label: str) -> str:
    """One block of bars per group (persona), one bar per series, all on a shared 0..max_value scale."""
    body, y = [], 4
    for name, values in groups:
        block = len(values) * ROW_H
        body.append(_text(0, y + block / 2, _clip(name), extra=' font-weight="bold"'))
        for series, value in values.items():
            width = BAR_W * (value or 0) / max_value if max_value else 0
            body.append(_rect(LABEL_W, y + 2, width, ROW_H - 4, colours[series], f"{name} · {series}: {fmt(value)}"))
            body.append(_text(LABEL_W + width + 4, y + ROW_H / 2, fmt(value) if value is not None else "n/a"))
            y += ROW_H
        y += 8
    body.append(f'<line x1="{LABEL_W}" y1="0" x2="{LABEL_W}" y2="{y}" stroke="#888"/>')
    return _svg(y, body, label)


def _stacked_bars(rows: list[tuple[str, dict[str, int] | None]], colours: dict[str, str], label: str) -> str:
    """100% stacked bars of counts; a row without counts is a bold group heading."""
    body, y = [], 4
    for name, counts in rows:
        if counts is None:
            body.append(_text(0, y + ROW_H / 2, _clip(name, 40), extra=' font-weight="bold"'))
            y += ROW_H
            continue
        total = sum(counts.values())
        body.append(_text(12, y + ROW_H / 2, _clip(name, 28)))
        x = LABEL_W
        for segment, count in counts.items():
            width = BAR_W * count / total if total else 0
            body.append(_rect(x, y + 2, width, ROW_H - 4, colours[segment],
                              f"{name} · {segment}: {count} of {total} ({_pct(count / total if total else None)})"))
            if width >= 30:
                body.append(_text(x + width / 2, y + ROW_H / 2, f"{count / total:.0%}", "middle",
                                  ' style="font-size:10px"'))
            x += width
        body.append(_text(LABEL_W + BAR_W + 4, y + ROW_H / 2, f"n={total}" if total else "no data"))
        y += ROW_H
    return _svg(y + 4, body, label)


def _nice_max(values: Iterable[float | None]) -> float:
    """A round upper bound for small rates, so a 4% bar is not a sliver on a 0..100% axis."""
    top = max((v for v in values if v), default=0.0)
    for bound in (0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if top <= bound:
            return bound
    return top


def _rate_chart(groups: list[tuple[str, GroupSummary]], keys: list[str], stat: Callable[[GroupSummary, str], RateStat],
                label: str) -> str:
    colours = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}
    data = [(name, {k: stat(g, k).rate for k in keys}) for name, g in groups]
    top = _nice_max(v for _, values in data for v in values.values())
    return (_legend(colours) + f'<p class="note">Scale 0 to {top:.0%}.</p>'
            + _grouped_bars(data, colours, top, _pct, label))


def _anger_table(rows: list[tuple[str, SessionStats]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in ["", "sessions", *OUTCOMES, "mean start anger", "mean final anger"])
    body = "".join(
        f"<tr><td>{escape(n)}</td><td>{s.sessions}</td>"
        + "".join(f"<td>{s.outcomes[o].count}</td>" for o in OUTCOMES)
        + f"<td>{_num(s.mean_start_anger)}</td><td>{_num(s.mean_final_anger)}</td></tr>" for n, s in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(summary: ResultsSummary) -> str:
    """One standalone page (inline CSS and SVG, no scripts or external files); every user string is escaped."""
    groups = _groups(summary)
    dims = list(summary.overall.dimensions)
    dim_colours = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(dims)}
    parts = [f"<p class=\"meta\">{summary.graded_lines} graded turn line(s), {summary.session_lines} session(s), "
             f"{summary.overall.graded_turns} graded turn(s) in all, {summary.skipped} line(s) skipped. "
             f"Judge fell back to offline grading on {_pct(summary.overall.judge_fallbacks.rate)} of turns.</p>",
             "<h2>Mean score per dimension</h2>", _legend(dim_colours),
             '<p class="note">0 harmful, 1 hollow, 2 partial, 3 strong; turns where a dimension did not apply '
             "are left out.</p>",
             _grouped_bars([(n, {d: g.dimensions[d].mean for d in dims}) for n, g in groups], dim_colours, 3, _num,
                           "mean score per dimension and persona"),
             "<h2>Score distribution</h2>", _legend(SCORE_COLOURS)]
    rows: list[tuple[str, dict[str, int] | None]] = []
    for name, g in groups:
        rows.append((name, None))
        rows += [(d, {**{str(k): v for k, v in g.dimensions[d].distribution.items()}, "n/a": g.dimensions[d].null})
                 for d in dims]
    parts.append(_stacked_bars(rows, SCORE_COLOURS, "score distribution per dimension and persona"))

    parts.append("<h2>Red flags (share of graded turns)</h2>")
    flags = _seen_flags(summary)
    parts.append(_rate_chart(groups, flags, lambda g, f: g.red_flags[f], "red-flag rates per persona")
                 if flags else '<p class="note">No red flags.</p>')
    parts += ["<h2>Judge fallbacks (share of graded turns)</h2>",
              _grouped_bars([(n, {"graded offline": g.judge_fallbacks.rate}) for n, g in groups],
                            {"graded offline": PALETTE[5]}, _nice_max(g.judge_fallbacks.rate for _, g in groups),
                            _pct, "judge fallback rate per persona")]

    if summary.session_lines:
        by_persona = [(n, g.sessions) for n, g in groups if g.sessions.sessions]
        outcome_rows = lambda rows: [(n, {o: s.outcomes[o].count for o in OUTCOMES}) for n, s in rows]  # noqa: E731
        parts += ["<h2>Session outcomes</h2>", _legend(OUTCOME_COLOURS),
                  _stacked_bars([("by persona", None), *outcome_rows(by_persona),
                                 ("by trainee", None), *outcome_rows(list(summary.trainees.items()))],
                                OUTCOME_COLOURS, "session outcomes per persona and trainee"),
                  _anger_table([("all" if n == ALL else f"persona: {n}", s) for n, s in by_persona]
                               + [(f"trainee: {n}", s) for n, s in summary.trainees.items()])]
        events = _seen_events(summary)
        played = [(n, g) for n, g in groups if g.health.played_turns]
        parts.append("<h2>Simulator health (share of played turns where a guard fired)</h2>")
        parts.append(_rate_chart(played, events, lambda g, e: g.health.events[e], "simulator health per persona")
                     if events else '<p class="note">No guard fired.</p>')

    if summary.skipped:
        items = "".join(f"<li>line {s.line}: {escape(s.problem)}</li>" for s in summary.skipped_lines)
        more = summary.skipped - len(summary.skipped_lines)
        parts += [f"<h2>Skipped lines ({summary.skipped})</h2>", f"<ul>{items}</ul>",
                  f'<p class="note">… and {more} more.</p>' if more else ""]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>Defuse results</title><style>{CSS}</style></head>\n<body><h1>Defuse results</h1>\n"
            + "\n".join(parts) + "\n</body></html>\n")
