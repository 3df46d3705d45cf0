"""A small OpenAI-compatible server for benchmarks and load tests: configurable latency and error rate.

It answers `/v1/chat/completions`, streamed or not. A request that asks for structured output
(a judge call) gets a valid verdict quoting the trainee reply it was sent; any other request gets
a short customer line. Latency is time to first byte; streamed replies then pace their tokens.

    python -m bench.fake_openai --port 8900 --latency 0.2 --error-rate 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

CUSTOMER_LINE = "That is still not good enough. When exactly will my order arrive, and who will call me?"


@dataclass
class FakeSettings:
    latency: float = 0.2
    token_delay: float = 0.01
    error_rate: float = 0.0
    seed: int = 7


def verdict_for(prompt: str) -> str:
    """A schema-valid verdict whose evidence is really in the trainee reply found in the prompt."""
    found = re.findall(r"<trainee_reply>\n(.*?)\n</trainee_reply>", prompt, re.S)
    reply = found[-1].strip() if found else ""
    quote = re.split(r"(?<=[.!?])\s", reply)[0][:80] if reply else ""
    evidence = [quote] if quote else []
    score = 2 if quote else 1

    def item(reason: str) -> dict:
        return {"evidence": evidence, "reasoning": reason, "score": score}

    return json.dumps({"perspective": item("calm"), "facilitator": item("asks"), "empathy": item("acknowledges"),
                       "plan": {"evidence": [], "reasoning": "not yet", "score": None},
                       "follow_through": {"evidence": [], "reasoning": "not yet", "score": None}, "red_flags": []})


def build_app(settings: FakeSettings) -> FastAPI:
    app = FastAPI()
    rng = random.Random(settings.seed)
    app.state.requests = 0

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": "fake", "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        app.state.requests += 1
        await asyncio.sleep(settings.latency)
        if settings.error_rate and rng.random() < settings.error_rate:
            status = rng.choice([429, 500, 503])
            return JSONResponse({"error": {"message": f"injected {status}", "type": "fake"}}, status_code=status)
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        structured = "response_format" in body or "tools" in body
        content = verdict_for(prompt) if structured else CUSTOMER_LINE
        usage = {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4,
                 "total_tokens": (len(prompt) + len(content)) // 4}
        if not body.get("stream"):
            return {"id": "fake", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "stop"}], "usage": usage}

        async def events():
            words = re.findall(r"\S+\s*", content)
            for word in words:
                chunk = {"id": "fake", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
                await asyncio.sleep(settings.token_delay)
            last = {"id": "fake", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
            yield f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """The fake server in a background thread, for the length of a `with` block."""

    def __init__(self, settings: FakeSettings, port: int | None = None):
        self.port = port or free_port()
        self.app = build_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    backlog=2048, limit_concurrency=4096))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "RunningServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before the first byte")
    parser.add_argument("--token-delay", type=float, default=0.01, help="seconds between streamed tokens")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 429/500/503")
    args = parser.parse_args()
    settings = FakeSettings(latency=args.latency, token_delay=args.token_delay, error_rate=args.error_rate)
    uvicorn.run(build_app(settings), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
