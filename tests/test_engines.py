"""Engine selection and LLM mode end to end against the small fake OpenAI-compatible server (real HTTP)."""

import json

import pytest
from click.testing import CliRunner

from bench.fake_openai import FakeSettings, RunningServer, free_port
from simulator.cli import main
from simulator.engines import EngineUnavailable, build_engine, offline_judge_named
from simulator.llm import LLMConfig, chat_model


@pytest.fixture(scope="module")
def fake_server():
    with RunningServer(FakeSettings(latency=0.01, token_delay=0.0)) as server:
        yield server


def test_llm_engine_needs_an_endpoint():
    with pytest.raises(EngineUnavailable, match="set OPENAI_BASE_URL"):
        build_engine("llm", LLMConfig())


def test_config_from_environment_and_overrides():
    env = {"OPENAI_BASE_URL": "http://h/v1", "DEFUSE_JUDGE_MODEL": "j", "DEFUSE_LLM_TIMEOUT": "5",
           "DEFUSE_MERGE_SYSTEM": "1"}
    config = LLMConfig.from_env(env, customer_model="c", judge_model=None)
    assert (config.base_url, config.customer_model, config.judge_model, config.timeout, config.merge_system) == \
        ("http://h/v1", "c", "j", 5.0, True)
    assert config.configured and "http://h/v1" in config.describe()
    with pytest.raises(ValueError, match="timeout"):
        LLMConfig.from_env({"DEFUSE_LLM_TIMEOUT": "soon"})


def test_chat_models_are_built_from_config_without_network():
    judge = chat_model(LLMConfig(base_url="http://127.0.0.1:9/v1", judge_model="j"), "judge")
    assert judge.model_name == "j" and judge.temperature == 0.0 and judge.extra_body == {"max_tokens": 1500}


def test_play_in_llm_mode_over_http(fake_server):
    result = CliRunner().invoke(main, ["play", "--persona", "late-birthday-gift", "--trainee", "good", "--engine",
                                       "llm", "--base-url", fake_server.url, "--model", "fake", "--judge-model",
                                       "fake", "--json"], catch_exceptions=False)
    data = json.loads(result.output)
    assert data["engine"] == "llm" and data["turns"]
    first = data["turns"][0]
    assert first["judge"] == "llm judge (fake)" and first["customer"].startswith("That is still not good enough")
    assert {u["role"] for u in first["usage"]} == {"judge", "customer"}


def test_grade_with_a_dead_endpoint_falls_back_per_line(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "history": [{"role": "customer", "text": "Where is it?"}],
                                  "reply": "Calm down."}) + "\n")
    out = tmp_path / "out.jsonl"
    dead = f"http://127.0.0.1:{free_port()}/v1"
    result = CliRunner().invoke(main, ["grade", str(source), "--out", str(out), "--engine", "llm", "--base-url", dead,
                                       "--timeout", "5"])
    assert result.exit_code == 0
    line = json.loads(out.read_text())
    assert line["judge"] == offline_judge_named().name and line["note"].startswith("graded offline: the llm judge failed")
    assert line["scores"]["perspective"] == 0


def test_llm_engine_without_endpoint_is_a_usage_error(monkeypatch):
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    build_engine.cache_clear()
    result = CliRunner().invoke(main, ["play", "--persona", "late-birthday-gift", "--engine", "llm"])
    assert result.exit_code == 2 and "the LLM engine needs an endpoint" in result.output
