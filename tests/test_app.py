"""The web page, driven through gradio_client against a real running server."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.fake_openai import free_port
from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app exited: {proc.stdout.read()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("app did not start within 90 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def angers(plot) -> list[float]:
    column = plot["columns"].index("anger")
    return [row[column] for row in plot["data"]]


def text_of(message) -> str:
    content = message["content"]
    return content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)


def test_page_names_the_engine_and_loads_no_external_assets(server):
    page = httpx.get(server, timeout=10).text
    assert "Offline engine" in page or "Offline engine" in httpx.get(server + "config", timeout=10).text
    assert "fonts.googleapis.com" not in page and "googletagmanager" not in page


def test_a_whole_session_through_the_page(server, tmp_path):
    client = Client(server, verbose=False, download_files=str(tmp_path))
    chat, brief, feedback, plot, *_ = client.predict("late-birthday-gift", 3, "offline", "", "", "", api_name="/start")
    assert "next-day delivery" in text_of(chat[0]) and "You may offer" in brief
    assert angers(plot) == [3]

    chat, feedback, plot, box, status, notice = client.predict("Calm down, you should have checked the address.", "", "", "", api_name="/send")
    assert len(chat) == 3 and text_of(chat[1]) == "Calm down, you should have checked the address."
    assert "calm_down" in feedback and "perspective: 0 harmful" in feedback and "Tip:" in feedback
    assert status.startswith("Turn 2 · anger")
    trajectory = angers(plot)
    assert len(trajectory) == 2 and trajectory[1] > trajectory[0]
    assert box == ""

    too_long = "x" * 2500
    _, _, _, box, _, notice = client.predict(too_long, "", "", "", api_name="/send")
    assert box == too_long, "a refused reply stays in the box"
    assert "limit is 2,000" in notice

    html = "<script>alert(1)</script> I'm sorry your son's present is missing."
    chat, feedback, *_ = client.predict(html, "", "", "", api_name="/send")
    assert any(html in text_of(m) for m in chat), "the trainee's words are kept verbatim"

    report, json_path, md_path, status = client.predict(api_name="/finish")
    assert "# Defuse session report: Dana Whitfield" in report
    data = json.loads(Path(json_path).read_text())
    assert data["report"]["turns"] == 2 and len(data["session"]["turns"]) == 2
    assert data["session"]["turns"][1]["trainee"] == html
    assert "## Coaching tips" in Path(md_path).read_text()


def test_sessions_are_per_user(server):
    one, two = Client(server, verbose=False), Client(server, verbose=False)
    one.predict("saas-budget-discount", 5, "offline", "", "", "", api_name="/start")
    two.predict("late-birthday-gift", 7, "offline", "", "", "", api_name="/start")
    chat, *_ = one.predict("Whatever.", "", "", "", api_name="/send")
    assert "budget" in text_of(chat[0]).lower() and len(chat) == 3
    chat, *_ = two.predict("I'm so sorry your son's present is missing.", "", "", "", api_name="/send")
    assert "next-day delivery" in text_of(chat[0]) and len(chat) == 3
