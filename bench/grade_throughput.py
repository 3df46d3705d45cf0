"""Batch grading throughput against a latency-bound LLM server, and memory on a 100,000-line input.

In one run:
  ceiling  a bare asyncio HTTP client (httpx) posting the same judge requests at the same concurrency
  defuse   `grade_stream` with the LLM judge (LangChain ChatOpenAI, structured output, quote checks)
both against the fake OpenAI-compatible server in its own process; prints LLM calls/s, the fraction
of the ceiling (target >= 0.85) and of the ideal (concurrency / latency). Then peak RSS of
`defuse grade --engine offline` on 10,000 and 100,000 lines (constant memory: about the same), with the
cue judge: streaming is what is measured, and the embedding judge would take an hour over 100,000 lines.

    python -m bench.grade_throughput [--turns 2000] [--concurrency 32] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.fake_openai import free_port
from evaluators.batch import GradeRequest, grade_stream
from evaluators.llm_judge import JudgeVerdict, system_prompt, system_template, user_prompt
from evaluators.rubric import load_rubric
from simulator.engines import build_engine
from simulator.llm import LLMConfig

LINE = {"persona": {"name": "Dana", "situation": "late parcel"},
        "history": [{"role": "customer", "text": "My parcel never came and nobody calls me back!"}]}


def requests(n: int) -> list[GradeRequest]:
    return [GradeRequest(id=i, reply=f"I'm sorry your parcel never came ({i}). When did you order it?", **LINE)
            for i in range(n)]


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.fake_openai", "--port", str(port), "--latency", str(latency)],
                            cwd=Path(__file__).resolve().parent.parent)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(200):
        try:
            httpx.get(f"{url}/models", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("fake server did not start")


async def ceiling(url: str, items: list[GradeRequest], concurrency: int) -> float:
    """Calls/s of a bare async client sending the same judge payloads (built before the clock starts)."""
    template = system_template(load_rubric())
    schema = {"type": "json_schema", "json_schema": {"name": "JudgeVerdict", "schema": JudgeVerdict.model_json_schema()}}
    bodies = [{"model": "fake", "response_format": schema, "messages": [
        {"role": "system", "content": system_prompt(template, item.context())},
        {"role": "user", "content": user_prompt(item.context(), item.reply, 3000)}]} for item in items]
    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        async def one(body: dict) -> None:
            async with semaphore:
                response = await client.post("/chat/completions", json=body)
                json.loads(response.json()["choices"][0]["message"]["content"])

        started = time.perf_counter()
        await asyncio.gather(*(one(body) for body in bodies))
        return len(items) / (time.perf_counter() - started)


async def defuse(url: str, items: list[GradeRequest], concurrency: int) -> float:
    engine = build_engine("llm", LLMConfig(base_url=url, judge_model="fake", customer_model="fake", max_retries=0))
    started = time.perf_counter()
    graded = 0
    async for result in grade_stream(items, engine.judge, engine.offline_judge, concurrency=concurrency):
        graded += result.judge == "llm judge (fake)"
    elapsed = time.perf_counter() - started
    assert graded == len(items), f"only {graded} of {len(items)} graded by the LLM judge"
    return len(items) / elapsed


def peak_rss_mb(lines: int, folder: Path) -> float:
    source, out = folder / f"in-{lines}.jsonl", folder / f"out-{lines}.jsonl"
    with source.open("w") as handle:
        for i in range(lines):
            handle.write(json.dumps({**LINE, "id": i, "reply": f"Calm down, it's policy ({i})."}) + "\n")
    code = ("import resource, sys; from simulator.cli import main; "
            "sys.argv=['defuse','grade',sys.argv[1],'--out',sys.argv[2]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", code, str(source), str(out)], capture_output=True, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1", "DEFUSE_OFFLINE_JUDGE": "cue"}, cwd=Path(__file__).resolve().parent.parent)
    assert sum(1 for _ in out.open()) == lines
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--memory-lines", type=int, default=100_000)
    args = parser.parse_args()
    items = requests(args.turns)
    proc, url = start_server(args.latency)
    try:
        asyncio.run(ceiling(url, items[:64], args.concurrency))  # warm up
        bare = asyncio.run(ceiling(url, items, args.concurrency))
        ours = asyncio.run(defuse(url, items, args.concurrency))
    finally:
        proc.terminate()
        proc.wait()
    ideal = args.concurrency / args.latency
    print(f"{args.turns} turns, concurrency {args.concurrency}, server latency {args.latency * 1000:.0f} ms\n")
    print(f"{'client':<22} {'calls/s':>8} {'of ceiling':>11} {'of ideal':>9}")
    print(f"{'bare asyncio (httpx)':<22} {bare:>8.1f} {1:>11.2f} {bare / ideal:>9.2f}")
    print(f"{'defuse grade (LLM)':<22} {ours:>8.1f} {ours / bare:>11.2f} {ours / ideal:>9.2f}")
    print(f"\nideal (concurrency / latency): {ideal:.0f} calls/s; target: defuse >= 0.85 of ceiling")
    with tempfile.TemporaryDirectory() as folder:
        small = peak_rss_mb(args.memory_lines // 10, Path(folder))
        large = peak_rss_mb(args.memory_lines, Path(folder))
    print(f"\npeak RSS, defuse grade --engine offline (cue judge): {args.memory_lines // 10:,} lines {small:.0f} MB, "
          f"{args.memory_lines:,} lines {large:.0f} MB (ratio {large / small:.2f})")


if __name__ == "__main__":
    main()
