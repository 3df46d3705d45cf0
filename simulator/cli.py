"""`defuse`: the command line, thin over the engine. Errors are one line each, never a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import click
from tqdm import tqdm

from evaluators.batch import LineError, count_lines, finished_ids, grade_file
from evaluators.judge import FALLBACK_PREFIX
from evaluators.batch_report import render_html, render_text, summarise_file, write_csv
from evaluators.offline import OfflineJudge
from evaluators.report import build_report
from evaluators.rubric import DEFAULT_RUBRIC, load_rubric
from simulator.batch_play import calibrate as calibrate_sim, plan_jobs, run_jobs, session_record
from simulator.bots import Trainee, reference_trainee
from simulator.engines import ENGINES, OFFLINE_JUDGES, Engine, EngineUnavailable, build_engine
from simulator.llm import LLMConfig, chat_model
from simulator.llm_trainee import LLMTrainee
from simulator.errors import DataFileError
from simulator.persona import load_personas, persona_dir
from simulator.play import play_session


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Defuse: practise calming angry customers, and grade replies against the coaching rubric."""


@main.group()
def personas() -> None:
    """List and check persona files."""


@personas.command("list")
@click.option("--json", "as_json", is_flag=True, help="print a JSON list of objects")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None, help="persona folder")
def personas_list(as_json: bool, directory: Path | None) -> None:
    """Show the personas that load (bad files are reported on stderr and skipped)."""
    loaded = load_personas(directory or persona_dir())
    for error in loaded.errors:
        click.echo(f"skipped: {error}", err=True)
    rows = [{"id": p.id, "name": p.name, "title": p.title, "industry": p.industry, "typology": p.typology,
             "start_anger": p.anger.start} for p in loaded.personas.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['id']:<32} anger {row['start_anger']:>2}  {row['name']} - {row['title']}")


@personas.command("validate")
@click.argument("directory", type=click.Path(path_type=Path), required=False)
def personas_validate(directory: Path | None) -> None:
    """Check every persona file; one line per problem (file: field: problem (fix: ...))."""
    loaded = load_personas(directory or persona_dir())
    for error in loaded.errors:
        click.echo(str(error))
    if loaded.errors:
        click.echo(f"{len(loaded.errors)} problem(s); {len(loaded.personas)} valid persona(s).", err=True)
        sys.exit(1)
    click.echo(f"{len(loaded.personas)} persona(s) valid.")


@main.group()
def rubric() -> None:
    """Check rubric files."""


@rubric.command("validate")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def rubric_validate(path: Path | None) -> None:
    """Check a rubric file (default: the shipped one) and that the offline judge can use it."""
    target = path or DEFAULT_RUBRIC
    try:
        OfflineJudge(load_rubric(target), source=target)
    except DataFileError as error:
        click.echo(str(error))
        sys.exit(1)
    click.echo(f"{target}: valid.")


def llm_options(command):
    """Flags that override the LLM environment for one run (see README: Use a real LLM)."""
    for option in reversed([
        click.option("--base-url", default=None, help="OpenAI-compatible endpoint (else OPENAI_BASE_URL)"),
        click.option("--model", default=None, help="customer model (else DEFUSE_CUSTOMER_MODEL)"),
        click.option("--judge-model", default=None, help="judge model (else DEFUSE_JUDGE_MODEL)"),
        click.option("--timeout", type=float, default=None, help="seconds per LLM request"),
        click.option("--offline-judge", type=click.Choice(OFFLINE_JUDGES), default=None, expose_value=False,
                     callback=lambda _ctx, _param, value: value and os.environ.update(DEFUSE_OFFLINE_JUDGE=value),
                     help="the offline judge (else DEFUSE_OFFLINE_JUDGE, else embedding); cue is ~8x faster"),
    ]):
        command = option(command)
    return command


def engine_from(name: str, base_url: str | None, model: str | None, judge_model: str | None,
                timeout: float | None, retries: int | None = None) -> Engine:
    try:
        config = LLMConfig.from_env(base_url=base_url, customer_model=model, judge_model=judge_model,
                                    timeout=timeout, max_retries=retries) if name == "llm" else None
        return build_engine(name, config)
    except EngineUnavailable as exc:
        raise click.UsageError(str(exc)) from None


def make_trainee_factory(engine_name: str, config: LLMConfig | None):
    """good / average / poor / a reply file / llm:LEVEL -> a fresh trainee per session."""
    def make(name: str) -> Trainee:
        if name.startswith("llm:"):
            if config is None or not config.configured:
                raise click.UsageError("an llm:LEVEL trainee needs an LLM endpoint (see README: Use a real LLM)")
            return LLMTrainee(chat_model(config, "customer"), name.partition(":")[2], merge_system=config.merge_system)
        try:
            return reference_trainee(name)
        except (FileNotFoundError, OSError, UnicodeDecodeError) as exc:
            raise click.UsageError(str(exc)) from None
    return make


@main.command()
@click.option("--persona", "persona_ids", multiple=True, help="persona id (repeatable; batch default: all)")
@click.option("--trainee", "trainees", multiple=True,
              help="good, average, poor, llm:novice|competent|expert, or a reply file (repeatable)")
@click.option("--engine", type=click.Choice(ENGINES), default="offline", show_default=True)
@click.option("--anger", type=click.IntRange(0, 10), default=None, help="starting anger (default: the persona's)")
@click.option("--json", "as_json", is_flag=True, help="print the session as JSON")
@click.option("--n", "count", type=click.IntRange(1), default=None, help="batch: play this many sessions")
@click.option("--out", "outfile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="batch: JSONL file, appended as sessions finish; a re-run skips sessions already there")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="batch: sessions at once")
@click.option("--calibrate", is_flag=True, help="check good > average > poor on every persona; exit 1 if not")
@llm_options
def play(persona_ids: tuple[str, ...], trainees: tuple[str, ...], engine: str, anger: int | None, as_json: bool,
         count: int | None, outfile: Path | None, concurrency: int, calibrate: bool, base_url: str | None,
         model: str | None, judge_model: str | None, timeout: float | None) -> None:
    """Let trainees (reference bots, reply files or an LLM) play personas: one session, a batch, or calibration."""
    loaded = load_personas(persona_dir())
    unknown = [p for p in persona_ids if p not in loaded.personas]
    if unknown:
        raise click.UsageError(f"no persona '{unknown[0]}'; known: {', '.join(sorted(loaded.personas))}")
    chosen = engine_from(engine, base_url, model, judge_model, timeout)
    config = LLMConfig.from_env(base_url=base_url, customer_model=model) if engine == "llm" or any(
        t.startswith("llm:") for t in trainees) else None
    make_trainee = make_trainee_factory(engine, config)
    personas = {p: loaded.personas[p] for p in persona_ids} if persona_ids else loaded.personas
    if calibrate:
        factories = {name: (lambda n=name: make_trainee(n)) for name in ("good", "average", "poor")}
        result = calibrate_sim(personas, factories, chosen.turn, engine_name=engine)
        click.echo(result.table())
        sys.exit(0 if result.passed else 1)
    if count is not None or outfile is not None:
        if outfile is None:
            raise click.UsageError("a batch (--n) needs --out FILE.jsonl")
        names = list(trainees) or ["good", "average", "poor"]
        for name in set(names):
            make_trainee(name)  # fail fast on a bad trainee name before any session runs
        total = count or len(personas) * len(names)
        jobs = plan_jobs(list(personas), names, total)
        outcomes: dict[str, int] = {}
        with tqdm(total=total, initial=len(finished_ids(outfile)), unit="session", desc="playing", file=sys.stderr,
                  disable=None) as progress:
            def on_done(record: dict) -> None:
                outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
                progress.update(1)

            run_jobs(jobs, personas, make_trainee, chosen.turn, engine, outfile, concurrency, on_done)
        click.echo(f"played {sum(outcomes.values())} session(s) into {outfile}: "
                   + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())), err=True)
        return
    if len(personas) != 1 or len(trainees) > 1:
        raise click.UsageError("one session takes one --persona and one --trainee (use --n and --out for a batch)")
    persona = next(iter(personas.values()))
    trainee = trainees[0] if trainees else "good"
    session = play_session(persona, make_trainee(trainee), chosen.turn, engine_name=engine, start_anger=anger)
    if as_json:
        click.echo(json.dumps(session_record(session, f"{persona.id}:{trainee}:1", trainee), indent=2,
                              ensure_ascii=False))
        return
    click.echo(f"[{persona.name}, anger {session.start_anger:g}] {persona.opening_line}")
    for t in session.turns:
        scores = " ".join(f"{d.value}={'-' if s is None else s}" for d, s in t.grade.scores.items())
        flags = f"  red flags: {', '.join(f.value for f in t.grade.red_flags)}" if t.grade.red_flags else ""
        click.echo(f"\nTRAINEE: {t.trainee}\n  {scores}{flags}")
        click.echo(f"CUSTOMER (anger {t.anger_before:g} -> {t.anger_after:g}): {t.customer}")
        for note in t.notes:
            click.echo(f"  note: {note}")
    click.echo(f"\nOutcome: {session.outcome.value}")
    click.echo("\n" + build_report(session).to_markdown())


@main.command()
@click.argument("infile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "outfile", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="JSONL file; results are appended as they finish, and a re-run skips ids already there")
@click.option("--engine", type=click.Choice(ENGINES), default="offline", show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True,
              help="grades in flight at once (LLM judge)")
@click.option("--retries", type=click.IntRange(0, 10), default=4, show_default=True,
              help="retries per LLM call on 429, 5xx and timeouts, with exponential backoff")
@llm_options
def grade(infile: Path, outfile: Path, engine: str, concurrency: int, retries: int, base_url: str | None,
          model: str | None, judge_model: str | None, timeout: float | None) -> None:
    """Grade trainee replies: turn-grading JSONL, CSV, or whole transcripts (see README)."""
    chosen = engine_from(engine, base_url, model, judge_model, timeout, retries)
    counts = {"graded": 0, "fallback": 0, "bad": 0}
    already = len(finished_ids(outfile))
    with tqdm(total=count_lines(infile) if infile.suffix.lower() != ".csv" else None, initial=already,
              unit="turn", desc="grading", file=sys.stderr, disable=None, dynamic_ncols=True) as progress:
        def on_result(item) -> None:
            if isinstance(item, LineError):
                counts["bad"] += 1
                progress.write(f"{infile.name}: line {item.line}: {item.problem}", file=sys.stderr)
            else:
                counts["graded"] += 1
                counts["fallback"] += bool(item.note and item.note.startswith(FALLBACK_PREFIX))
            progress.update(1)

        try:
            asyncio.run(grade_file(infile, outfile, chosen.judge, chosen.offline_judge, concurrency=concurrency,
                                   on_result=on_result))
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted: {counts['graded']} result(s) saved in {outfile}; run the same command "
                       "again to continue", err=True)
            sys.exit(130)
    summary = f"graded {counts['graded']} reply(ies) into {outfile}"
    if already:
        summary += f" ({already} already there, skipped)"
    if counts["fallback"]:
        summary += f"; {counts['fallback']} graded offline after the LLM judge failed (a re-run retries them)"
    if counts["bad"]:
        summary += f"; {counts['bad']} line(s) skipped"
    click.echo(summary, err=True)
    if counts["bad"]:
        sys.exit(1)


@main.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV file (default: RESULTS with .csv)")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="standalone HTML file with charts (default: RESULTS with .html)")
def report(results: Path, csv_path: Path | None, html_path: Path | None) -> None:
    """Summarise graded turns and played sessions: printed, and written as CSV and standalone HTML."""
    summary = summarise_file(results)
    csv_path, html_path = csv_path or results.with_suffix(".csv"), html_path or results.with_suffix(".html")
    write_csv(summary, csv_path)
    html_path.write_text(render_html(summary), encoding="utf-8")
    click.echo(render_text(summary))
    click.echo(f"\nwrote {csv_path} and {html_path}", err=True)


@main.command()
@click.option("--host", default=None, help="default 127.0.0.1 (or GRADIO_SERVER_NAME)")
@click.option("--port", type=int, default=None, help="default 7860 (or GRADIO_SERVER_PORT)")
def serve(host: str | None, port: int | None) -> None:
    """Start the web page (offline engine by default)."""
    from app import launch

    launch(host=host, port=port)


if __name__ == "__main__":
    main()
