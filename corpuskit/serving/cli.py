"""`corpuskit chat RUN_DIR` and `corpuskit serve RUN_DIR`: talking to a trained model.

Both ask the run's trainer for its generator (Trainer.generator), so they work with any
trainer plugin that implements one and say so clearly when it does not.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

SERVE_MISSING = (
    "`corpuskit serve` needs FastAPI and uvicorn, which are not installed; "
    "install them with pip install 'corpuskit[serve]'"
)


def _common(f):
    f = click.option(
        "--checkpoint",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        help="A checkpoint folder instead of the run's final model.",
    )(f)
    f = click.option("--device", help="cpu, cuda, cuda:N, mps (default: the run's device).")(f)
    f = click.option(
        "--threads", type=click.IntRange(min=1), help="CPU threads (default: all cores)."
    )(f)
    return click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))(
        f
    )


@click.command()
@_common
@click.option("--system", "system_prompt", help="System message that opens the conversation.")
@click.option("--temperature", type=click.FloatRange(0, 2), default=0.7, show_default=True)
@click.option(
    "--top-p", type=click.FloatRange(0, 1, min_open=True), default=0.95, show_default=True
)
@click.option("--top-k", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    help="Reply length at most (default: what the context leaves).",
)
@click.option("--seed", type=int, help="Seed of the sampling (default: random).")
def chat(
    run_dir: Path,
    checkpoint: Path | None,
    device: str | None,
    threads: int | None,
    system_prompt: str | None,
    temperature: float,
    top_p: float,
    top_k: int,
    max_tokens: int | None,
    seed: int | None,
) -> None:
    """Chat with the model of RUN_DIR in the terminal; replies stream as they come.

    \b
    Type a message and Enter. Commands: /reset (forget the conversation),
    /system TEXT (a new system message; starts over), /exit (or Ctrl-D).
    Ctrl-C stops a reply. A base model without a chat template continues your text.
    """
    from corpuskit.serving.chat import ChatSession, Settings
    from corpuskit.training.launch import load_run

    trainer, _ = load_run(run_dir)
    click.echo(f"loading {run_dir} ...", err=True)
    generator = trainer.generator(
        run_dir, checkpoint=checkpoint, slots=1, device=device, threads=threads
    )
    settings = Settings(temperature, top_p, top_k, max_tokens, seed)
    ChatSession(generator, settings, system_prompt).repl(interactive=sys.stdin.isatty())


@click.command()
@_common
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--api-key",
    envvar="CORPUSKIT_API_KEY",
    help="Require `Authorization: Bearer KEY` on /v1 (env CORPUSKIT_API_KEY).",
)
@click.option("--model-name", help="The model's name in the API (default: the run folder's).")
@click.option(
    "--slots",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Sequences decoded together (continuous batching); more wait in the queue.",
)
@click.option(
    "--max-queue",
    type=click.IntRange(min=0),
    default=64,
    show_default=True,
    help="Requests that may wait for a slot; beyond it the server answers 429.",
)
@click.option("--log-level", default="info", show_default=True, help="uvicorn's log level.")
def serve(
    run_dir: Path,
    checkpoint: Path | None,
    device: str | None,
    threads: int | None,
    host: str,
    port: int,
    api_key: str | None,
    model_name: str | None,
    slots: int,
    max_queue: int,
    log_level: str,
) -> None:
    """Serve the model of RUN_DIR over an OpenAI-compatible HTTP API.

    \b
    corpuskit serve runs/chat-sft --port 8000 --api-key secret
    POST /v1/chat/completions, /v1/completions (stream: true for server-sent events),
    GET /v1/models, GET /health (503 while the model loads). The model loads after the
    server starts listening.
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise click.ClickException(SERVE_MISSING) from None

    from corpuskit.serving.engine import Engine
    from corpuskit.serving.server import create_app
    from corpuskit.training.launch import load_run

    trainer, _ = load_run(run_dir)
    name = model_name or run_dir.resolve().name

    def load():
        return trainer.generator(
            run_dir, checkpoint=checkpoint, slots=slots, device=device, threads=threads, name=name
        )

    engine = Engine(load, max_queue=max_queue)
    app = create_app(engine, api_key=api_key, model_name=name)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


COMMANDS = (chat, serve)
