"""`defuse grade` at scale: concurrency, retries, resume, transcripts, CSV, constant memory."""

import asyncio
import csv
import json

import pytest
from click.testing import CliRunner

from bench.fake_openai import FakeSettings, RunningServer
from evaluators.batch import GradeRequest, LineError, finished_ids, grade_stream, read_requests
from evaluators.judge import Judge
from simulator.cli import main

LINE = {"persona": {"name": "Dana", "situation": "late parcel"},
        "history": [{"role": "customer", "text": "My parcel never came!"}]}


def write_jsonl(path, n, start=0):
    with path.open("w") as out:
        for i in range(start, start + n):
            out.write(json.dumps({**LINE, "id": f"r{i}", "reply": f"I'm sorry your parcel never came ({i})."}) + "\n")


def grade_cli(*args):
    return CliRunner().invoke(main, ["grade", *map(str, args)], catch_exceptions=False)


def ids(path):
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_rerun_skips_ids_already_graded(tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(source, 5)
    out.write_text("\n".join(json.dumps({"id": f"r{i}", "scores": {}, "red_flags": [], "evidence": {}, "tip": "",
                                         "judge": "earlier"}) for i in (0, 1)) + "\n")
    result = grade_cli(source, "--out", out)
    assert result.exit_code == 0 and "(2 already there, skipped)" in result.stderr
    assert sorted(ids(out)) == ["r0", "r1", "r2", "r3", "r4"]
    assert len(ids(out)) == 5


def test_a_crash_midway_keeps_what_was_graded_and_the_rerun_finishes(tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(source, 6)

    class Exploding(Judge):
        name = "exploding"

        def __init__(self, inner):
            self.inner, self.calls = inner, 0

        def grade(self, context, reply):
            self.calls += 1
            if self.calls == 4:
                raise KeyboardInterrupt
            return self.inner.grade(context, reply)

    from evaluators.batch import grade_file
    from evaluators.offline import OfflineJudge

    judge = Exploding(OfflineJudge())
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(grade_file(source, out, judge, judge, concurrency=1, on_result=lambda _: None))
    assert ids(out) == ["r0", "r1", "r2"]
    out.write_text(out.read_text() + '{"id": "r3", "sco')  # a line cut short by the crash
    assert finished_ids(out) == {"r0", "r1", "r2"}
    grade_cli(source, "--out", out)
    assert sorted(set(ids(out))) == [f"r{i}" for i in range(6)] and len(ids(out)) == 6


def test_whole_transcripts_grade_every_trainee_turn_in_context(tmp_path):
    source, out = tmp_path / "sessions.jsonl", tmp_path / "out.jsonl"
    transcript = [{"role": "customer", "text": "Where is my refund?"},
                  {"role": "trainee", "text": "Calm down."},
                  {"role": "customer", "text": "Don't tell me to calm down!"},
                  {"role": "trainee", "text": "I'm sorry I said that - you're right to be upset about the refund. "
                                             "I'll process it today and email you by 5 pm."}]
    source.write_text(json.dumps({"id": "s1", "persona": {"name": "Lee"}, "transcript": transcript}) + "\n")
    grade_cli(source, "--out", out)
    results = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(results) == {"s1#t1", "s1#t2"}
    assert "calm_down" in results["s1#t1"]["red_flags"]
    assert results["s1#t2"]["scores"]["plan"] >= 2 and results["s1#t2"]["persona"] == "Lee"


def test_csv_input(tmp_path):
    source, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "persona_name", "customer", "reply"])
        writer.writerow(["c1", "Sam", "My bill is wrong AGAIN!", "That's our policy."])
        writer.writerow(["c2", "Sam", "My bill is wrong AGAIN!", ""])
    result = grade_cli(source, "--out", out)
    assert ids(out) == ["c1"] and "policy_hiding" in json.loads(out.read_text())["red_flags"]
    assert result.exit_code == 1 and "in.csv: line 3: reply" in result.stderr


def test_llm_grading_with_concurrency_and_injected_errors(tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(source, 40)
    with RunningServer(FakeSettings(latency=0.05, error_rate=0.2, seed=3)) as server:
        result = grade_cli(source, "--out", out, "--engine", "llm", "--base-url", server.url, "--judge-model", "fake",
                           "--concurrency", "8", "--retries", "6")
        requests = server.app.state.requests
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert result.exit_code == 0 and len(results) == 40
    assert all(r["judge"] == "llm judge (fake)" for r in results), "a retryable error was not retried"
    assert requests > 40, "no request was retried although 20% failed"


def test_fallback_results_are_retried_on_the_next_run(tmp_path):
    from bench.fake_openai import free_port

    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(source, 3)
    grade_cli(source, "--out", out, "--engine", "llm", "--base-url", f"http://127.0.0.1:{free_port()}/v1",
              "--retries", "0", "--timeout", "2")
    assert all(json.loads(l)["note"].startswith("graded offline") for l in out.read_text().splitlines())
    with RunningServer(FakeSettings(latency=0.0)) as server:
        grade_cli(source, "--out", out, "--engine", "llm", "--base-url", server.url, "--judge-model", "fake")
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in results) == ["r0", "r1", "r2"]
    assert all(r["judge"] == "llm judge (fake)" for r in results)


def test_input_is_streamed_with_bounded_work_in_flight(judge):
    produced = []

    def lazy():
        for i in range(10_000):
            produced.append(i)
            yield GradeRequest(id=i, reply="ok", **LINE)

    async def first_results():
        seen = 0
        async for _ in grade_stream(lazy(), judge, judge, concurrency=4):
            seen += 1
            if seen == 10:
                return len(produced)

    assert asyncio.run(first_results()) <= 10 + 4 + 1


def test_bad_lines_are_reported_with_their_number():
    huge = json.dumps({"id": 4, "reply": "x" * 1_000_000})
    items = list(read_requests(iter(['{"id": 1, "reply": "hi"}\n', "[1, 2]\n", "nope\n", huge + "\n"])))
    assert isinstance(items[0], GradeRequest)
    assert [(e.line, e.problem) for e in items[1:] if isinstance(e, LineError)] == [
        (2, "each line must be a JSON object"), (3, "not valid JSON (Expecting value)"),
        (4, "reply: String should have at most 20000 characters")]
