import csv
import json
import re
import time
import tracemalloc
import xml.etree.ElementTree as ET

import pytest

from evaluators.batch_report import (
    CSV_COLUMNS, GradedTurnLine, SessionLine, SkippedLine, iter_results, parse_line, render_html, render_text,
    summarise, summarise_file, write_csv,
)

DIMS = ("perspective", "facilitator", "empathy", "plan", "follow_through")
EVIL = "<script>x</script>"


def scores(*values):
    return dict(zip(DIMS, values))


def graded(persona, values, flags=(), note=None, **extra):
    line = {"id": "t", "scores": scores(*values), "red_flags": list(flags), "evidence": {}, "tip": "",
            "judge": "offline cue judge v1", "note": note, **extra}
    if persona is not None:
        line["persona"] = persona
    return line


def turn(before, after, values, flags=(), guards=(), notes=()):
    return {"trainee": "...", "customer": "...", "anger_before": before, "anger_after": after,
            "scores": scores(*values), "red_flags": list(flags), "evidence": {}, "judge": "offline cue judge v1",
            "move": "acknowledged", "revealed": [], "notes": list(notes), "customer_guards": list(guards), "usage": []}


def session(persona, trainee, outcome, turns, start=None, final=None):
    line = {"id": "s", "persona": persona, "trainee": trainee, "engine": "offline", "outcome": outcome, "turns": turns}
    if start is not None:
        line.update(start_anger=start, final_anger=final)
    return line


LINES = [
    graded("Dana Whitfield", (2, 3, None, None, None), ["hollow_apology"]),                          # 1
    graded("Dana Whitfield", (3, 1, 2, None, None), note="graded offline: the llm judge failed: timeout"),  # 2
    "{not json",                                                                                      # 3
    graded(None, (0, 0, 0, 0, None), ["blame", "argue"]),                                              # 4
    graded("", (1, 1, 1, None, None), ["blame"]),                                                      # 5
    "",                                                                                               # 6 blank
    {"id": "x", "hello": 1},                                                                          # 7 neither
    session("late-birthday-gift", "good", "resolved", [                                               # 8
        turn(7, 5.2, (2, 3, 3, None, None), guards=["role_reversal", "role_reversal"]),
        turn(5.2, 2.1, (3, 2, 3, 3, 2), ["hollow_apology"], guards=["too_calm", "fallback_to_authored_line"]),
    ], start=7, final=2.1),
    session("late-birthday-gift", "poor", "escalated", [                                              # 9
        turn(6, 9, (0, 1, 0, None, None), ["calm_down", "blame"],
             guards=["customer_failed: the llm customer failed: timeout"],
             notes=["graded offline: the llm judge failed: bad json"]),
    ], start=6, final=9),
    session(EVIL, "good", "left", [                                                                   # 10
        turn(5, 6, (1, 2, 1, None, None),
             guards=["character_break", "early_end", "repetition", "empty", "some_new_guard"]),
    ]),
    session("late-birthday-gift", "good", "exploded", []),                                            # 11 bad outcome
    [1, 2],                                                                                           # 12 not an object
]


@pytest.fixture()
def results(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in LINES) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def summary(results):
    return summarise_file(results)


def test_reader_sorts_lines_into_kinds_and_skips_bad_ones_with_line_numbers(results):
    items = list(iter_results(results))
    assert [type(i).__name__ for i in items] == ["GradedTurnLine"] * 2 + ["SkippedLine"] + ["GradedTurnLine"] * 2 \
        + ["SkippedLine"] + ["SessionLine"] * 3 + ["SkippedLine"] * 2
    skipped = {i.line: i.problem for i in items if isinstance(i, SkippedLine)}
    assert sorted(skipped) == [3, 7, 11, 12]
    assert skipped[3].startswith("not valid JSON")
    assert skipped[7] == "neither a graded turn (no 'scores') nor a played session (no 'turns')"
    assert skipped[11].startswith("outcome:")
    assert skipped[12] == "not a JSON object"


def test_reader_names_unknown_personas_and_reads_anger_off_the_turns():
    assert parse_line(json.dumps(graded(None, (1,) * 5)), 1).persona == "(unknown)"
    assert parse_line(json.dumps(graded("  ", (1,) * 5)), 1).persona == "(unknown)"
    assert parse_line(json.dumps(graded({"name": "Dana", "situation": "s"}, (1,) * 5)), 1).persona == "Dana"
    played = parse_line(json.dumps({"persona": "p", "outcome": "left", "turns": [turn(4, 5, (1,) * 5),
                                                                                 turn(5, 8, (1,) * 5)]}), 1)
    assert isinstance(played, SessionLine)
    assert (played.trainee, played.start_anger, played.final_anger) == ("(unknown)", 4, 8)
    assert parse_line("   \n", 5) is None


def test_scores_overall(summary):
    assert (summary.graded_lines, summary.session_lines, summary.skipped) == (4, 3, 4)
    overall = summary.overall
    assert overall.graded_turns == 8
    d = overall.dimensions
    assert list(d) == list(DIMS)
    assert (d["perspective"].applicable, d["perspective"].null, d["perspective"].mean) == (8, 0, 1.5)
    assert d["perspective"].distribution == {0: 2, 1: 2, 2: 2, 3: 2}
    assert d["facilitator"].mean == pytest.approx(13 / 8)
    assert d["facilitator"].distribution == {0: 1, 1: 3, 2: 2, 3: 2}
    assert (d["empathy"].applicable, d["empathy"].null) == (7, 1)
    assert d["empathy"].mean == pytest.approx(10 / 7)
    assert d["empathy"].distribution == {0: 2, 1: 2, 2: 1, 3: 2}
    assert (d["plan"].applicable, d["plan"].null, d["plan"].mean) == (2, 6, 1.5)
    assert d["plan"].distribution == {0: 1, 1: 0, 2: 0, 3: 1}
    assert (d["follow_through"].applicable, d["follow_through"].null, d["follow_through"].mean) == (1, 7, 2)


def test_red_flags_and_judge_fallbacks(summary):
    flags = summary.overall.red_flags
    assert {f: (s.count, s.rate) for f, s in flags.items() if s.count} == {
        "hollow_apology": (2, 0.25), "blame": (3, 0.375), "argue": (1, 0.125), "calm_down": (1, 0.125)}
    assert flags["jargon"].count == 0 and flags["jargon"].rate == 0
    assert (summary.overall.judge_fallbacks.count, summary.overall.judge_fallbacks.rate) == (2, 0.25)
    dana, unknown = summary.personas["Dana Whitfield"], summary.personas["(unknown)"]
    assert dana.red_flags["hollow_apology"].rate == 0.5 and dana.judge_fallbacks.rate == 0.5
    assert unknown.graded_turns == 2 and unknown.red_flags["blame"].rate == 1.0 and unknown.red_flags["argue"].rate == 0.5
    assert unknown.dimensions["perspective"].mean == 0.5
    assert summary.personas["late-birthday-gift"].judge_fallbacks.rate == pytest.approx(1 / 3)


def test_per_persona_groups(summary):
    assert list(summary.personas) == [EVIL, "Dana Whitfield", "late-birthday-gift", "(unknown)"]
    dana = summary.personas["Dana Whitfield"]
    assert dana.graded_turns == 2
    assert dana.dimensions["perspective"].mean == 2.5 and dana.dimensions["perspective"].distribution == {0: 0, 1: 0, 2: 1, 3: 1}
    assert (dana.dimensions["empathy"].applicable, dana.dimensions["empathy"].null, dana.dimensions["empathy"].mean) == (1, 1, 2)
    assert dana.sessions.sessions == 0 and dana.sessions.outcomes["resolved"].rate is None
    assert dana.health.played_turns == 0 and dana.health.events["role_reversal"].rate is None
    gift = summary.personas["late-birthday-gift"]
    assert gift.graded_turns == 3 and gift.dimensions["perspective"].mean == pytest.approx(5 / 3)


def test_session_outcomes_and_anger(summary):
    overall = summary.overall.sessions
    assert overall.sessions == 3
    assert {o: s.count for o, s in overall.outcomes.items()} == {"resolved": 1, "escalated": 1, "left": 1, "abandoned": 0}
    assert overall.outcomes["left"].rate == pytest.approx(1 / 3)
    assert overall.mean_start_anger == 6 and overall.mean_final_anger == pytest.approx(5.7)
    gift = summary.personas["late-birthday-gift"].sessions
    assert (gift.sessions, gift.outcomes["resolved"].rate, gift.outcomes["escalated"].rate) == (2, 0.5, 0.5)
    assert gift.mean_start_anger == 6.5 and gift.mean_final_anger == pytest.approx(5.55)
    evil = summary.personas[EVIL].sessions
    assert (evil.outcomes["left"].count, evil.mean_start_anger, evil.mean_final_anger) == (1, 5, 6)
    assert list(summary.trainees) == ["good", "poor"]
    good, poor = summary.trainees["good"], summary.trainees["poor"]
    assert (good.sessions, good.outcomes["resolved"].count, good.outcomes["left"].count, good.outcomes["resolved"].rate) == (2, 1, 1, 0.5)
    assert good.mean_start_anger == 6 and good.mean_final_anger == pytest.approx(4.05)
    assert (poor.sessions, poor.outcomes["escalated"].rate, poor.mean_final_anger) == (1, 1.0, 9)


def test_simulator_health_counts_turns_where_a_guard_fired(summary):
    gift = summary.personas["late-birthday-gift"].health
    assert gift.played_turns == 3
    fired = {e: (s.count, s.rate) for e, s in gift.events.items() if s.count}
    assert fired == {"role_reversal": (1, pytest.approx(1 / 3)), "too_calm": (1, pytest.approx(1 / 3)),
                     "fallback_to_authored_line": (1, pytest.approx(1 / 3)), "customer_failed": (1, pytest.approx(1 / 3))}
    assert gift.events["character_break"].count == 0 and gift.events["character_break"].rate == 0
    evil = summary.personas[EVIL].health
    assert {e for e, s in evil.events.items() if s.count} == {"character_break", "early_end", "repetition", "empty", "other"}
    assert evil.events["early_end"].rate == 1.0
    overall = summary.overall.health
    assert overall.played_turns == 4
    assert all(s.count == 1 and s.rate == 0.25 for s in overall.events.values())


def test_skipped_lines_are_counted_but_only_the_first_are_kept():
    lines = [SkippedLine(line=n, problem="bad") for n in range(1, 31)]
    summary = summarise(iter(lines))
    assert summary.skipped == 30 and [s.line for s in summary.skipped_lines] == list(range(1, 21))
    assert "... and 10 more" in render_text(summary)


def test_csv_is_tidy_and_holds_the_numbers(summary, tmp_path):
    path = tmp_path / "summary.csv"
    write_csv(summary, path)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    values = {tuple(r[:4]): r[4] for r in rows[1:]}
    assert len(values) == len(rows) - 1, "one row per (scope, group, metric, key)"
    assert values[("file", "(all)", "skipped_lines", "")] == "4"
    assert values[("overall", "(all)", "graded_turns", "")] == "8"
    assert values[("overall", "(all)", "mean", "perspective")] == "1.5"
    assert values[("overall", "(all)", "score_1", "facilitator")] == "3"
    assert values[("overall", "(all)", "null", "follow_through")] == "7"
    assert values[("overall", "(all)", "red_flag_rate", "blame")] == "0.375"
    assert values[("overall", "(all)", "judge_fallback_rate", "")] == "0.25"
    assert values[("persona", "late-birthday-gift", "outcome_count", "resolved")] == "1"
    assert values[("persona", "late-birthday-gift", "health_rate", "role_reversal")] == "0.333333"
    assert values[("persona", "Dana Whitfield", "outcome_rate", "resolved")] == ""
    assert values[("persona", EVIL, "health_count", "character_break")] == "1"
    assert values[("trainee", "good", "mean_final_anger", "")] == "4.05"
    assert values[("trainee", "poor", "outcome_rate", "escalated")] == "1"
    assert {r[0] for r in rows[1:]} == {"file", "overall", "persona", "trainee"}


def test_text_report(summary):
    text = render_text(summary)
    assert text.startswith("4 graded turn line(s), 3 session(s), 8 graded turn(s) in all, 4 line(s) skipped")
    assert "1.50 (8)" in text and "1.43 (7)" in text       # perspective and empathy means overall
    assert "37.5%" in text                                 # blame
    assert "trainee good" in text and "6.00 -> 4.05" in text
    assert "line 3: not valid JSON" in text and "line 12: not a JSON object" in text


def test_html_is_standalone_escaped_and_draws_svg(summary):
    page = render_html(summary)
    assert page.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert "<script" not in page.lower()
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert page.count("<svg") >= 5
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        ET.fromstring(svg)  # well-formed: every label was escaped
    for heading in ("Mean score per dimension", "Score distribution", "Red flags", "Session outcomes", "Simulator health"):
        assert heading in page


def test_empty_input_renders_everywhere(tmp_path):
    summary = summarise([])
    assert summary.overall.graded_turns == 0 and summary.overall.dimensions["empathy"].mean is None
    assert "0 graded turn line(s)" in render_text(summary)
    assert "<svg" in render_html(summary)
    write_csv(summary, tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text().startswith("scope,group,metric,key,value")


def synthetic(i: int) -> str:
    if i % 2:
        return json.dumps(graded(f"p{i % 3}", (i % 4, 3, None, 2, 1), ["blame"] if i % 5 == 0 else []))
    return json.dumps(session(f"p{i % 3}", "good" if i % 4 else "poor", "resolved" if i % 4 else "escalated",
                              [turn(7, 3, (2, 2, 2, None, None), guards=["repetition"] if i % 10 == 0 else [])]))


def test_summarise_folds_a_generator_of_100000_lines():
    started = time.perf_counter()
    summary = summarise(parse_line(synthetic(i), i) for i in range(100_000))
    assert time.perf_counter() - started < 60
    assert (summary.graded_lines, summary.session_lines, summary.skipped) == (50_000, 50_000, 0)
    assert summary.overall.graded_turns == 100_000
    assert summary.overall.dimensions["perspective"].distribution == {0: 0, 1: 25_000, 2: 50_000, 3: 25_000}
    assert summary.overall.dimensions["empathy"].null == 50_000
    assert summary.overall.red_flags["blame"].count == 10_000
    assert summary.trainees["poor"].sessions == 25_000 and summary.trainees["good"].sessions == 25_000
    assert summary.overall.sessions.outcomes["escalated"].rate == 0.5
    assert summary.overall.health.events["repetition"].count == 10_000
    assert summary.overall.health.events["repetition"].rate == 0.2


def test_reader_streams_a_large_file_in_small_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(20_000):
            f.write(synthetic(i) + "\n")
    size = path.stat().st_size
    assert size > 6_000_000
    lines = iter_results(path)
    assert iter(lines) is lines  # a generator, not a list
    tracemalloc.start()
    try:
        summary = summarise(lines)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.graded_lines + summary.session_lines == 20_000
    assert peak < 1_000_000, f"peak {peak:,} bytes while reading a {size:,}-byte file"


def test_line_models_are_the_public_union():
    assert isinstance(parse_line(json.dumps(graded("p", (1,) * 5)), 1), GradedTurnLine)
