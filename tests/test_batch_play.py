"""`defuse play` in batch, LLM trainees, and the calibration that proves the simulator discriminates."""

import json

from click.testing import CliRunner

from bench.fake_openai import FakeSettings, RunningServer
from simulator.batch_play import calibrate, plan_jobs
from simulator.bots import AverageTrainee, GoodTrainee, PoorTrainee
from simulator.cli import main
from tests.conftest import SHIPPED, fake_chat


def test_jobs_cover_persona_trainee_pairs_evenly():
    jobs = list(plan_jobs(["a", "b"], ["good", "poor"], 6))
    assert [j.id for j in jobs] == ["a:good:1", "a:poor:1", "b:good:1", "b:poor:1", "a:good:2", "a:poor:2"]


def test_calibration_passes_on_the_shipped_personas(personas, offline):
    result = calibrate(personas, {"good": GoodTrainee, "average": AverageTrainee, "poor": PoorTrainee}, offline)
    assert result.passed, result.failures
    assert len(result.rows) == 3 * len(SHIPPED)


def test_calibration_fails_when_the_order_is_wrong(personas, offline):
    swapped = {"good": PoorTrainee, "average": AverageTrainee, "poor": GoodTrainee}
    result = calibrate({"late-birthday-gift": personas["late-birthday-gift"]}, swapped, offline)
    assert not result.passed
    assert "late-birthday-gift: good does not score above average" in result.failures
    assert "FAIL" in result.table()


def test_calibrate_command_prints_the_table_and_exit_code():
    result = CliRunner().invoke(main, ["play", "--calibrate"])
    assert result.exit_code == 0 and "PASS: on every persona good > average > poor" in result.output
    assert result.output.count("\n") > 3 * len(SHIPPED)


def test_batch_is_written_as_it_goes_and_resumes(tmp_path):
    out = tmp_path / "sessions.jsonl"
    first = CliRunner().invoke(main, ["play", "--n", "6", "--out", str(out), "--persona", "late-birthday-gift",
                                      "--persona", "saas-budget-discount", "--trainee", "good", "--trainee", "poor",
                                      "--concurrency", "3"])
    assert first.exit_code == 0, first.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 6 and {r["trainee"] for r in records} == {"good", "poor"}
    assert all(r["outcome"] == "resolved" for r in records if r["trainee"] == "good")
    assert all(r["turns"] and set(r["turns"][0]["scores"]) == {"perspective", "facilitator", "empathy", "plan",
                                                               "follow_through"} for r in records)
    again = CliRunner().invoke(main, ["play", "--n", "8", "--out", str(out), "--persona", "late-birthday-gift",
                                      "--persona", "saas-budget-discount", "--trainee", "good", "--trainee", "poor"])
    assert again.exit_code == 0 and "played 2 session(s)" in again.stderr
    assert len(out.read_text().splitlines()) == 8


def test_a_batch_needs_an_output_file():
    result = CliRunner().invoke(main, ["play", "--n", "3"])
    assert result.exit_code == 2 and "needs --out" in result.output


def test_llm_trainee_at_a_skill_level_plays_over_http(tmp_path):
    out = tmp_path / "llm.jsonl"
    with RunningServer(FakeSettings(latency=0.0)) as server:
        result = CliRunner().invoke(main, ["play", "--n", "1", "--out", str(out), "--persona", "late-birthday-gift",
                                           "--trainee", "llm:expert", "--base-url", server.url, "--model", "fake"])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["trainee"] == "llm:expert" and record["turns"][0]["trainee"].startswith("That is still not good")


def test_llm_trainee_prompt_carries_level_and_brief(persona):
    from simulator.llm_trainee import LLMTrainee
    from simulator.state import start_session

    trainee = LLMTrainee(fake_chat("I'm sorry your bike is missing."), "novice")
    messages = trainee.messages(start_session(persona))
    assert "Skill level: novice" in messages[0].content and persona.trainee_brief.may_offer[0] in messages[0].content
    assert messages[1].content == persona.opening_line and messages[1].type == "human"
    assert trainee.next_reply(start_session(persona)) == "I'm sorry your bike is missing."


def test_report_command_writes_csv_and_html(tmp_path):
    out = tmp_path / "sessions.jsonl"
    CliRunner().invoke(main, ["play", "--n", "3", "--out", str(out), "--persona", "late-birthday-gift",
                              "--trainee", "good", "--trainee", "average", "--trainee", "poor"])
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 0 and "3 session(s)" in result.output
    assert (tmp_path / "sessions.csv").read_text().startswith("scope,group,metric,key,value")
    html = (tmp_path / "sessions.html").read_text()
    assert "<svg" in html and "late-birthday-gift" in html and "https://" not in html
