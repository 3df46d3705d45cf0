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
