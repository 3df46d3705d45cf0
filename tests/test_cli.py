import json
import os

from click.testing import CliRunner

from simulator.cli import main
from tests.conftest import SHIPPED


def run(*args, **kwargs):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, **kwargs)


def test_personas_list_json():
    result = run("personas", "list", "--json")
    rows = json.loads(result.output)
    assert result.exit_code == 0 and sorted(r["id"] for r in rows) == SHIPPED
    assert all(r["name"] for r in rows)


def test_validate_ok():
    result = run("personas", "validate")
    assert result.exit_code == 0 and f"{len(SHIPPED)} persona(s) valid." in result.output


def test_validate_reports_one_line_per_problem_without_traceback(tmp_path, shipped_dir):
    good = (shipped_dir / "late-birthday-gift.yaml").read_text()
    (tmp_path / "late-birthday-gift.yaml").write_text(good)
    (tmp_path / "typo.yaml").write_text(good.replace("id: late-birthday-gift", "id: typo").replace("opening_line:", "openng_line:"))
    result = CliRunner().invoke(main, ["personas", "validate", str(tmp_path)])
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if line]
    assert lines == [
        f"{tmp_path / 'typo.yaml'}: opening_line: Field required (fix: add this field)",
        f"{tmp_path / 'typo.yaml'}: openng_line: Extra inputs are not permitted "
        "(fix: remove it, or check its spelling against the documented fields)",
    ]
    assert "Traceback" not in result.output


def test_play_json_shape():
    result = run("play", "--persona", "late-birthday-gift", "--trainee", "poor", "--engine", "offline", "--json")
    data = json.loads(result.output)
    assert data["persona"] == "late-birthday-gift" and data["engine"] == "offline"
    assert data["outcome"] in ("escalated", "left")
    turn = data["turns"][0]
    assert set(turn) >= {"trainee", "customer", "anger_before", "anger_after", "scores", "red_flags", "evidence"}
    assert set(turn["scores"]) == {"perspective", "facilitator", "empathy", "plan", "follow_through"}
    assert turn["anger_after"] > turn["anger_before"] and "calm_down" in turn["red_flags"]


def test_play_from_a_reply_file(tmp_path):
    replies = tmp_path / "replies.txt"
    replies.write_text("I'm so sorry your son's present is missing - that's awful.\n\nWhen did you last check the tracking?\n")
    data = json.loads(run("play", "--persona", "late-birthday-gift", "--trainee", str(replies), "--json").output)
    assert [t["trainee"] for t in data["turns"]] == ["I'm so sorry your son's present is missing - that's awful.",
                                                     "When did you last check the tracking?"]
    assert data["outcome"] == "abandoned"


def test_play_unknown_persona_and_missing_file_are_usage_errors():
    result = CliRunner().invoke(main, ["play", "--persona", "nobody"])
    assert result.exit_code == 2 and "no persona 'nobody'" in result.output
    result = CliRunner().invoke(main, ["play", "--persona", "late-birthday-gift", "--trainee", "nofile.txt"])
    assert result.exit_code == 2 and "no file at nofile.txt" in result.output


def test_grade_jsonl_round_trip_and_bad_lines(tmp_path):
    source = tmp_path / "in.jsonl"
    rows = [
        {"id": "a", "persona": {"name": "Dana", "situation": "late parcel"},
         "history": [{"role": "customer", "text": "My parcel never came!"}], "reply": "Calm down."},
        {"id": 2, "persona": {"name": "Dana", "situation": "late parcel"},
         "history": [{"role": "customer", "text": "My parcel never came!"}],
         "reply": "I'm so sorry your parcel never came - that's frustrating. When did you order it?"},
    ]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n"
                      + json.dumps({"id": "x", "history": [{"role": "trainee", "text": "hi"}], "reply": "x"}) + "\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["grade", str(source), "--out", str(out), "--engine", "offline"])
    assert result.exit_code == 1
    assert "line 3: not valid JSON" in result.stderr and "line 4: history: Value error, history must end" in result.stderr
    results = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}  # finishing order
    assert set(results) == {"a", 2}
    assert results["a"]["scores"]["perspective"] == 0 and "calm_down" in results["a"]["red_flags"]
    assert results[2]["scores"]["empathy"] >= 2 and results[2]["evidence"]["empathy"]


def test_rubric_validate_ok_and_bad_pattern(tmp_path):
    assert run("rubric", "validate").exit_code == 0
    from evaluators.rubric import DEFAULT_RUBRIC
    broken = tmp_path / "rubric.yaml"
    broken.write_text(DEFAULT_RUBRIC.read_text().replace("      - good luck with that", "      - good luck (with that"))
    result = CliRunner().invoke(main, ["rubric", "validate", str(broken)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"{broken}: red_flags.sarcasm_or_insult.cues.0: Value error, 'good luck (with that' is not a valid pattern")


def test_rubric_validate_reports_missing_cue_groups(tmp_path):
    from evaluators.rubric import DEFAULT_RUBRIC
    text = DEFAULT_RUBRIC.read_text()
    broken = tmp_path / "rubric.yaml"
    broken.write_text(text.split("\ncues:\n")[0] + "\n")
    result = CliRunner().invoke(main, ["rubric", "validate", str(broken)])
    assert result.exit_code == 1 and f"{broken}: cues: missing cue groups: dismiss" in result.output


def test_grade_can_use_the_cue_judge(tmp_path, monkeypatch):
    from simulator.engines import build_engine

    monkeypatch.delenv("DEFUSE_OFFLINE_JUDGE", raising=False)
    build_engine.cache_clear()
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": 1, "history": [{"role": "customer", "text": "Where is my parcel?"}],
                                  "reply": "Calm down."}) + "\n")
    try:
        result = CliRunner().invoke(main, ["grade", str(source), "--out", str(out), "--offline-judge", "cue"])
    finally:  # the option sets the variable for the process, as a CLI run would
        build_engine.cache_clear()
        os.environ.pop("DEFUSE_OFFLINE_JUDGE", None)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["judge"] == "offline cue judge v1"
