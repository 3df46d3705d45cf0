import pytest

from evaluators.report import build_report
from evaluators.rubric import Dimension as D, RedFlag as F
from simulator.bots import GoodTrainee, PoorTrainee
from simulator.play import play_session
from simulator.session import end_session, take_turn
from simulator.state import start_session


def test_report_of_a_poor_session(personas, offline, rubric):
    session = play_session(personas["late-birthday-gift"], PoorTrainee(), offline)
    report = build_report(session, rubric)
    assert report.outcome == session.outcome.value and report.turns == len(session.turns)
    assert report.anger_trajectory == session.anger_trajectory
    assert report.red_flags[F.calm_down] == 1
    perspective = report.dimensions[D.perspective]
    assert perspective.mean == 0 and perspective.worst.turn == 1
    assert perspective.worst.quote == "Calm down, there's no need to shout at me."
    assert len(report.tips) == 3
    for tip in report.tips:
        assert tip.quote.strip("…") in session.turns[tip.turn - 1].trainee


def test_report_means_skip_not_applicable_turns(personas, offline, rubric):
    session = play_session(personas["musician-broken-guitar"], GoodTrainee(), offline)
    report = build_report(session, rubric)
    plans = [t.grade.scores[D.plan] for t in session.turns if t.grade.scores[D.plan] is not None]
    assert report.dimensions[D.plan].turns_graded == len(plans) < len(session.turns)
    assert report.dimensions[D.plan].mean == round(sum(plans) / len(plans), 2)


def test_markdown_contains_the_sections(personas, judge, customer, rubric):
    session = end_session(take_turn(start_session(personas["late-birthday-gift"]), "Whatever.", judge, customer))
    markdown = build_report(session, rubric).to_markdown()
    for part in ("Outcome: **abandoned**", "## Scores", "## Red flags", "sarcasm_or_insult: 1", "## Coaching tips",
                 "Turn 1", "“Whatever.”"):
        assert part in markdown


def test_empty_session_report(personas, rubric):
    report = build_report(end_session(start_session(personas["late-birthday-gift"])), rubric)
    assert report.turns == 0 and report.tips == [] and report.dimensions[D.empathy].mean is None
    assert "No turns to coach on." in report.to_markdown()


def test_tokens_cost_and_guards_in_the_report(personas, judge, customer, rubric):
    from evaluators.grade import CallUsage
    from simulator.tokens import PriceTable

    session = take_turn(start_session(personas["late-birthday-gift"]), "Whatever.", judge, customer)
    turn = session.turns[0].model_copy(update={
        "usage": [CallUsage(role="judge", model="m", prompt_tokens=1000, completion_tokens=200),
                  CallUsage(role="customer", model="m", prompt_tokens=500, completion_tokens=50, estimated=True)],
        "customer_guards": ["role_reversal", "customer_failed: the llm customer failed (x)"],
        "notes": ["graded offline: the llm judge failed: boom"]})
    session = session.model_copy(update={"turns": [turn]})
    report = build_report(session, rubric, PriceTable(prices={"m": (1.0, 2.0)}))
    assert report.usage.calls == 2 and report.usage.prompt_tokens == 1500 and report.usage.completion_tokens == 250
    assert report.usage.cost_usd == pytest.approx((1500 * 1 + 250 * 2) / 1e6) and report.usage.estimated
    assert report.simulator_events == {"role_reversal": 1, "customer_failed": 1}
    markdown = report.to_markdown()
    assert "2 call(s), 1,500 prompt + 250 completion tokens (some estimated with tiktoken)" in markdown
    assert "turn 1: graded offline: the llm judge failed: boom" in markdown
    unknown = build_report(session, rubric, PriceTable(prices={}))
    assert unknown.usage.cost_usd is None and "unknown (no price" in unknown.to_markdown()
