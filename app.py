"""The Defuse web page (Gradio Blocks): wiring only; every decision lives in `simulator` and `evaluators`.

Per-user data lives in `gr.State` (a `Session` value); nothing per-user sits in module globals.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home: the page must work offline

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from evaluators.report import build_report  # noqa: E402
from evaluators.rubric import Dimension  # noqa: E402
from simulator.engines import ENGINES, EngineUnavailable, build_engine  # noqa: E402
from simulator.llm import LLMConfig  # noqa: E402
from simulator.persona import Persona, load_personas, persona_dir  # noqa: E402
from simulator.session import ReplyRejected, SessionOver, end_session, prepare_next_turn, run_turn  # noqa: E402
from simulator.state import Session, Turn, start_session  # noqa: E402

DEFAULT_ENGINE = os.environ.get("DEFUSE_ENGINE", "offline")
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "Consolas", "monospace"])
SCORE_WORDS = {0: "0 harmful", 1: "1 hollow", 2: "2 partial", 3: "3 strong", None: "n/a yet"}


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def brief_markdown(persona: Persona, anger: float) -> str:
    b = persona.trainee_brief
    bullets = lambda items: "\n".join(f"- {_esc(i)}" for i in items)  # noqa: E731
    return (f"### {_esc(persona.name)} — {_esc(persona.title)}\n"
            f"*{_esc(persona.industry)} · {_esc(persona.typology)} · starting anger {anger:g}/10*\n\n"
            f"**Your role:** {_esc(b.role)}  \n**Your goal:** {_esc(b.goal)}\n\n"
            f"**You may offer:**\n{bullets(b.may_offer)}\n\n**Negotiable:**\n{bullets(b.negotiable)}\n\n"
            f"**Not negotiable:**\n{bullets(b.not_negotiable)}")


def feedback_markdown(turn: Turn) -> str:
    """Per dimension: the score, why, and the trainee's own words that earned it; then red flags and a tip."""
    grade, rows = turn.grade, []
    for dimension in Dimension:
        score = grade.scores.get(dimension)
        quotes = "; ".join(f"“{_esc(q)}”" for q in grade.evidence.get(dimension.value, [])[:2])
        reason = _esc(grade.reasons.get(dimension, ""))
        rows.append(f"- **{dimension.value}: {SCORE_WORDS[score]}** — {reason}" + (f"  \n  {quotes}" if quotes else ""))
    flags = "".join(f"\n- **{f.value}**: " + "; ".join(f"“{_esc(q)}”" for q in grade.evidence.get(f.value, []))
                    for f in grade.red_flags) or " none"
    note = "".join(f"\n\n> ⚠ {_esc(n)}" for n in turn.notes)
    return (f"#### Your last reply — anger {turn.anger_before:g} → {turn.anger_after:g}\n\n" + "\n".join(rows) +
            f"\n\n**Red flags:**{flags}\n\n**Tip:** {_esc(grade.tip)}\n\n*Graded by: {_esc(grade.judge)}*{note}")


def chat_messages(session: Session) -> list[dict]:
    return [{"role": "assistant" if m.role == "customer" else "user", "content": m.text} for m in session.messages]


def anger_frame(session: Session | None) -> pd.DataFrame:
    trajectory = session.anger_trajectory if session else []
    return pd.DataFrame({"turn": list(range(len(trajectory))), "anger": trajectory})


def status_line(session: Session) -> str:
    if session.ended:
        return f"**Conversation over: {session.outcome.value}.** Press *End session* for your report, or *Restart*."
    return f"Turn {len(session.turns) + 1} · anger {session.anger:g}/10"


def _personas() -> dict[str, Persona]:
    return load_personas(persona_dir()).personas


def engine_for(name: str, base_url: str = "", model: str = "", judge_model: str = ""):
    """The engine chosen on the page; page settings override the environment for LLM mode."""
    config = None
    if name == "llm":
        config = LLMConfig.from_env(base_url=base_url or None, customer_model=model or None,
                                    judge_model=judge_model or None)
    try:
        return build_engine(name, config)
    except EngineUnavailable as exc:
        raise gr.Error(str(exc)) from None


def start(persona_id: str, anger: float, engine_name: str = DEFAULT_ENGINE, base_url: str = "", model: str = "",
          judge_model: str = ""):
    """Begin a new conversation with the chosen persona, starting anger and engine."""
    personas = _personas()
    if persona_id not in personas:
        raise gr.Error(f"Unknown persona '{persona_id}'.")
    engine = engine_for(engine_name, base_url, model, judge_model)
    persona = personas[persona_id]
    session = start_session(persona, engine=engine.name, start_anger=anger)
    prepare_next_turn(engine.turn, session)
    return (session, chat_messages(session), brief_markdown(persona, session.start_anger),
            "Your feedback appears here after each reply.", anger_frame(session), "", None, None,
            status_line(session), "", f"**Engine in use:** {_esc(engine.label)}")


def send(text: str, session: Session | None, base_url: str = "", model: str = "", judge_model: str = ""):
    """Take one trainee reply, streaming the customer's answer. Refused replies stay in the box."""
    if session is None:
        raise gr.Error("Pick a persona and press Start first.")
    engine = engine_for(session.engine, base_url, model, judge_model)
    chat = chat_messages(session)
    try:
        for item in run_turn(session, text, engine.turn):
            if isinstance(item, Session):
                prepare_next_turn(engine.turn, item)
                last = item.turns[-1]
                yield (item, chat_messages(item), feedback_markdown(last), anger_frame(item), "", status_line(item), "")
            else:
                partial = chat + [{"role": "user", "content": text.strip()}, {"role": "assistant", "content": item}]
                yield session, partial, gr.skip(), gr.skip(), text, "The customer is typing…", ""
    except ReplyRejected as exc:
        if not (text or "").strip():
            yield session, gr.skip(), gr.skip(), gr.skip(), text, gr.skip(), gr.skip()
            return
        gr.Warning(str(exc))
        yield session, gr.skip(), gr.skip(), gr.skip(), text, gr.skip(), f"⚠ {exc}"
    except SessionOver as exc:
        gr.Warning(str(exc))
        yield session, gr.skip(), gr.skip(), gr.skip(), text, gr.skip(), f"⚠ {exc}"


def finish(session: Session | None):
    """End the session: the report on the page, plus JSON and Markdown downloads."""
    if session is None:
        raise gr.Error("There is no session to end yet.")
    session = end_session(session)
    report = build_report(session)
    folder = Path(tempfile.mkdtemp(prefix="defuse-report-"))
    json_path = folder / f"defuse-{session.persona.id}-report.json"
    md_path = folder / f"defuse-{session.persona.id}-report.md"
    payload = {"report": report.model_dump(mode="json"), "session": session.model_dump(mode="json")}
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    markdown = report.to_markdown()
    md_path.write_text(markdown, encoding="utf-8")
    return session, _esc(markdown), str(json_path), str(md_path), status_line(session)


def build_app() -> gr.Blocks:
    personas = _personas()
    choices = [(f"{p.name} — {p.title} (anger {p.anger.start})", p.id) for p in personas.values()]
    first = next(iter(personas.values()))
    engine = engine_for(DEFAULT_ENGINE)
    with gr.Blocks(title="Defuse — angry-customer trainer", analytics_enabled=False) as demo:
        session = gr.State(None)
        gr.Markdown("# Defuse — practise calming an angry customer")
        engine_label = gr.Markdown(f"**Engine in use:** {_esc(engine.label)}", elem_id="engine-label")
        with gr.Accordion("Engine settings", open=False):
            with gr.Row():
                engine_pick = gr.Radio(list(ENGINES), value=engine.name, label="Engine (applies when you press Start)")
                base_url = gr.Textbox(label="LLM endpoint (OpenAI-compatible base URL)",
                                      placeholder=os.environ.get("OPENAI_BASE_URL", "e.g. http://localhost:11434/v1"))
                model = gr.Textbox(label="Customer model", placeholder=os.environ.get("DEFUSE_CUSTOMER_MODEL", "gpt-4o-mini"))
                judge_model = gr.Textbox(label="Judge model", placeholder=os.environ.get("DEFUSE_JUDGE_MODEL", "gpt-4o-mini"))
        with gr.Row():
            persona_pick = gr.Dropdown(choices=choices, value=first.id, label="Customer persona")
            anger_pick = gr.Slider(0, 10, value=first.anger.start, step=1, label="Starting anger (0 calm – 10 irate)")
            start_btn = gr.Button("Start", variant="primary")
        with gr.Row():
            with gr.Column(scale=3):
                status = gr.Markdown("Pick a persona and press **Start**.")
                chat = gr.Chatbot(label="Conversation", height=420, sanitize_html=True)
                reply = gr.Textbox(label="Your reply", placeholder="Type your reply to the customer…", lines=3)
                with gr.Row():
                    send_btn = gr.Button("Send", variant="primary")
                    end_btn = gr.Button("End session")
                    restart_btn = gr.Button("Restart")
                notice = gr.Markdown("")
            with gr.Column(scale=2):
                feedback = gr.Markdown("Your feedback appears here after each reply.")
                plot = gr.LinePlot(anger_frame(None), x="turn", y="anger", y_lim=[0, 10], title="Anger over turns",
                                   height=220)
                with gr.Accordion("Trainee brief", open=True):
                    brief = gr.Markdown("")
        report = gr.Markdown("")
        with gr.Row():
            json_file = gr.File(label="Report (JSON)")
            md_file = gr.File(label="Report (Markdown)")

        start_outputs = [session, chat, brief, feedback, plot, report, json_file, md_file, status, notice, engine_label]
        start_inputs = [persona_pick, anger_pick, engine_pick, base_url, model, judge_model]
        llm_inputs = [base_url, model, judge_model]
        persona_pick.change(lambda pid: personas[pid].anger.start if pid in personas else 5, persona_pick,
                            anger_pick, api_name=False)
        start_btn.click(start, start_inputs, start_outputs, api_name="start")
        restart_btn.click(start, start_inputs, start_outputs, api_name="restart")
        send_outputs = [session, chat, feedback, plot, reply, status, notice]
        send_btn.click(send, [reply, session, *llm_inputs], send_outputs, api_name="send")
        reply.submit(send, [reply, session, *llm_inputs], send_outputs, api_name=False)
        end_btn.click(finish, [session], [session, report, json_file, md_file, status], api_name="finish")
        demo.load(start, start_inputs, start_outputs, api_name=False)
    return demo


def launch(host: str | None = None, port: int | None = None) -> None:
    """Serve on 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT or arguments say otherwise."""
    host = host or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = port or int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    build_app().queue().launch(server_name=host, server_port=port, theme=THEME, ssr_mode=False,
                               footer_links=["api"], show_error=True)


if __name__ == "__main__":
    launch()
