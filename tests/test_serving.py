"""`corpuskit serve` and `corpuskit chat`: the real server on 127.0.0.1 with a small trained
chat model, driven by the official `openai` client and by raw HTTP for the error cases.

The model is trained once per module (a few seconds); the server runs as a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("corpuskit_gpt")
pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")

from click.testing import CliRunner  # noqa: E402
from corpuskit_gpt.inference import GPTGenerator  # noqa: E402
from corpuskit_gpt.model import CausalLM, build_model  # noqa: E402
from corpuskit_gpt.tokenizer import build_char  # noqa: E402

from corpuskit.cli import main  # noqa: E402
from corpuskit.engine.run import run_recipe  # noqa: E402
from corpuskit.recipe import recipe_from_dict  # noqa: E402
from corpuskit.serving.engine import Engine, QueueFull  # noqa: E402
from corpuskit.serving.generator import PromptTooLong, SamplingParams  # noqa: E402
from corpuskit.training.base import validate_config  # noqa: E402
from corpuskit.training.launch import run_training  # noqa: E402
from tests.conftest import corpuskit_cmd, write_jsonl  # noqa: E402

WORDS = "the king said that a lord will go to the castle and the queen saw him there".split()
KEY = "test-key"


def conversations(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 5))]
        if i % 2:
            msgs = [
                {"role": "user", "content": "repeat: " + " ".join(words)},
                {"role": "assistant", "content": " ".join(words)},
            ]
        else:
            msgs = [
                {"role": "system", "content": "You reverse words."},
                {"role": "user", "content": " ".join(words)},
                {"role": "assistant", "content": " ".join(reversed(words))},
            ]
        rows.append({"id": f"c{i}", "text": " ".join(words), "messages": msgs})
    return rows


CHAT_TINY = {
    "trainer": "gpt",
    "tokenizer": "char",
    "messages_field": "messages",
    "split": {"val": 0.1, "test": 0.1},
    "n_layer": 2,
    "n_head": 2,
    "n_embd": 32,
    "block_size": 192,
    "batch_size": 8,
    "learning_rate": 3e-3,
    "min_lr": 3e-4,
    "warmup_iters": 5,
    "max_iters": 40,
    "eval_interval": 0,
    "final_eval_iters": 5,
    "checkpoint_interval": 0,
    "reply_checks": 4,
    "device": "cpu",
    "compile": "false",
    "threads": 1,
    "progress": "false",
    "tensorboard": False,
}


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory) -> Path:
    """A chat model trained from scratch on 300 tiny conversations (messages in meta)."""
    tmp = tmp_path_factory.mktemp("chat")
    src = write_jsonl(tmp / "chat.jsonl", conversations(300))
    recipe = recipe_from_dict(
        {
            "input": {"path": str(src), "id_field": "id"},
            "output": {"path": str(tmp / "out")},
            "executor": {"workers": 1},
        }
    )
    run_recipe(recipe)
    run_dir = tmp / "run"
    run_training(validate_config({**CHAT_TINY, "data": str(tmp / "out"), "run_dir": str(run_dir)}))
    return run_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(chat_run):
    """`corpuskit serve` on a free port with an API key, 2 slots and a queue of 2."""
    port = free_port()
    cmd = [*corpuskit_cmd(), "serve", str(chat_run), "--port", str(port), "--api-key", KEY]
    cmd += ["--slots", "2", "--max-queue", "2", "--threads", "1", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {proc.stdout.read()}")
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not become ready in 120 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0)


def headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


# --- the generator --------------------------------------------------------------------
def test_cached_decoding_gives_transformers_logits_and_greedy_text():
    tok = build_char([["abcdef ghij klmnop qrstu vwxyz"]])
    cfg = validate_config({**CHAT_TINY, "messages_field": None, "block_size": 48, "dropout": 0.0})
    model = build_model(cfg, tok.get_vocab_size(), 0).eval()
    gen = GPTGenerator(model, tok, "m", slots=3)
    prompts = [[3, 4, 5], [7, 8, 9, 10, 11, 3, 2], [12]]
    for i, p in enumerate(prompts):
        gen.add(i, p, SamplingParams(max_tokens=20, temperature=0, ignore_eos=True))
    while gen.seqs:
        seqs = dict(gen.seqs)
        gen.step()
    full = {i: s.ids for i, s in seqs.items()}
    for i, p in enumerate(prompts):
        ref = model.generate(
            torch.tensor([p]), max_new_tokens=20, do_sample=False, eos_token_id=None, pad_token_id=0
        )[0].tolist()
        assert full[i] == ref
    # the cache's logits are transformers' at every position
    ids = torch.tensor([full[1]])
    with torch.no_grad():
        reference = CausalLM(model).logits(ids)[0, -1]
        gen.add(9, full[1][:-1], SamplingParams(max_tokens=1, temperature=0))
        gen._prefill([gen.seqs[9]])
        gen.seqs[9].ids.append(full[1][-1])
        cached = gen._decode([gen.seqs[9]])[0]
    assert torch.allclose(cached, reference, atol=1e-5)


def test_top_p_and_top_k_narrow_the_sampling_to_the_likeliest_tokens():
    """At temperature 1.5, top_p near 0 or top_k 1 leave only the likeliest token (greedy);
    with neither, some seed samples another text."""
    tok = build_char([["abcdef ghij klmnop qrstu vwxyz"]])
    cfg = validate_config({**CHAT_TINY, "messages_field": None, "block_size": 48, "dropout": 0.0})
    gen = GPTGenerator(build_model(cfg, tok.get_vocab_size(), 0).eval(), tok, "m", slots=1)

    def sample(**kw) -> list[int]:
        gen.add(1, [3, 4, 5], SamplingParams(max_tokens=12, ignore_eos=True, **kw))
        seq = gen.seqs[1]
        while gen.seqs:
            gen.step()
        return seq.ids[3:]

    greedy = sample(temperature=0)
    for seed in range(3):
        assert sample(temperature=1.5, top_p=1e-6, seed=seed) == greedy
        assert sample(temperature=1.5, top_k=1, seed=seed) == greedy
    assert any(sample(temperature=1.5, seed=seed) != greedy for seed in range(3))


def test_room_checks_max_tokens_against_the_context():
    tok = build_char([["abc"]])
    cfg = validate_config({**CHAT_TINY, "messages_field": None, "block_size": 16})
    gen = GPTGenerator(build_model(cfg, tok.get_vocab_size(), 0), tok, "m", slots=1)
    assert gen.room([1] * 10, None) == 6
    with pytest.raises(PromptTooLong, match="exceed the model's context of 16"):
        gen.room([1] * 10, 7)
    with pytest.raises(PromptTooLong, match="no room"):
        gen.room([1] * 16, None)


def test_stop_sequences_are_cut_and_never_streamed(chat_run):
    from corpuskit.training.launch import load_run

    trainer, _ = load_run(chat_run)
    gen = trainer.generator(chat_run, slots=1)
    prompt = gen.encode("the king said")

    def run(**kw) -> tuple[list[str], str]:
        gen.add(1, prompt, SamplingParams(max_tokens=60, ignore_eos=True, **kw))
        parts, finish = [], None
        while gen.seqs:
            for d in gen.step():
                parts.append(d.text)
                finish = d.finish or finish
        return parts, finish

    full, finish = run(temperature=0)
    text = "".join(full)
    assert finish == "length" and len(text) > 20
    stop = text[10:13]
    cut, finish = run(temperature=0, stop=(stop,))
    assert finish == "stop"
    assert "".join(cut) == text[: text.index(stop)]
    assert all(stop not in "".join(cut[: i + 1]) for i in range(len(cut)))
    # the same seed samples the same text, another seed another one
    a, b, c = (run(temperature=1.0, top_p=0.9, seed=s)[0] for s in (5, 5, 6))
    assert a == b and a != c


def gated_load(run_dir: Path) -> tuple[Callable[[], Any], threading.Event]:
    """A loader of the run's generator (1 slot) that waits for the event: 'still loading'."""
    from corpuskit.training.launch import load_run

    trainer, _ = load_run(run_dir)
    gate = threading.Event()

    def load():
        gate.wait(60)
        return trainer.generator(run_dir, slots=1)

    return load, gate


def test_the_engine_queues_up_to_its_limit_then_refuses(chat_run):
    load, gate = gated_load(chat_run)
    engine = Engine(load, max_queue=1).start()
    try:
        assert engine.state == "loading"
        gate.set()
        gen = engine.wait_ready(60)
        params = SamplingParams(max_tokens=150, temperature=0, ignore_eos=True)
        prompt = gen.encode("the")
        done = threading.Event()
        got: list = []
        tickets = []
        with engine._lock:  # hold the worker so nothing finishes while we submit
            tickets.append(engine.submit(prompt, params, got.append))
            tickets.append(
                engine.submit(prompt, params, lambda d: done.set() if d.finish else None)
            )
            with pytest.raises(QueueFull, match="the limit is 1"):
                engine.submit(prompt, params, got.append)
        assert engine.stats.rejected == 1
        tickets[0].cancel()
        assert done.wait(60)
        assert engine.stats.cancelled == 1 and engine.stats.finished == 1
    finally:
        engine.stop()


def test_a_trainer_without_a_generator_gets_a_clear_error():
    from corpuskit.training import TrainConfigError, Trainer, TrainerConfig

    class Plain(Trainer):
        def fit(self, data, run_dir):
            return {}

        def evaluate(self, data, run_dir, splits=("val",), **options):
            return {}

    with pytest.raises(TrainConfigError, match="has no generator"):
        Plain(TrainerConfig(trainer="plain")).generator(Path("."))


# --- the OpenAI client ----------------------------------------------------------------
@pytest.mark.slow
def test_models_chat_and_completions_with_the_openai_client(client, chat_run):
    models = client.models.list().data
    assert [m.id for m in models] == [chat_run.name]
    name = models[0].id
    r = client.chat.completions.create(
        model=name,
        messages=[{"role": "user", "content": "repeat: the king"}],
        max_tokens=20,
        temperature=0,
    )
    choice = r.choices[0]
    assert r.object == "chat.completion" and choice.message.role == "assistant"
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 5 and 0 < r.usage.completion_tokens <= 20
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # streaming gives the same text, then [DONE] (the client stops there)
    chunks = list(
        client.chat.completions.create(
            model=name,
            messages=[{"role": "user", "content": "repeat: the king"}],
            max_tokens=20,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == choice.finish_reason and set(finishes[:-1]) == {None}
    assert chunks[-1].usage.completion_tokens == r.usage.completion_tokens
    # completions: max_tokens, seed, stop
    c = client.completions.create(
        model=name, prompt="the king", max_tokens=12, seed=3, extra_body={"ignore_eos": True}
    )
    again = client.completions.create(
        model=name, prompt="the king", max_tokens=12, seed=3, extra_body={"ignore_eos": True}
    )
    assert c.choices[0].finish_reason == "length" and c.usage.completion_tokens == 12
    assert c.choices[0].text == again.choices[0].text
    streamed = list(
        client.completions.create(
            model=name,
            prompt="the king",
            max_tokens=12,
            seed=3,
            stream=True,
            extra_body={"ignore_eos": True},
        )
    )
    assert "".join(s.choices[0].text for s in streamed) == c.choices[0].text
    assert streamed[-1].choices[0].finish_reason == "length"
    greedy = (
        client.completions.create(
            model=name,
            prompt="the king",
            max_tokens=30,
            temperature=0,
            extra_body={"ignore_eos": True},
        )
        .choices[0]
        .text
    )
    stop = greedy[4:6]
    stopped = client.completions.create(
        model=name, prompt="the king", max_tokens=30, temperature=0, stop=[stop]
    ).choices[0]
    assert stopped.finish_reason == "stop" and stopped.text == greedy[: greedy.index(stop)]
    two = client.chat.completions.create(
        model=name, messages=[{"role": "user", "content": "king"}], n=2, max_tokens=5, seed=1
    )
    assert [ch.index for ch in two.choices] == [0, 1]


# --- errors over raw HTTP -------------------------------------------------------------
@pytest.mark.slow
def test_bad_requests_are_400_with_the_reason(server, chat_run):
    name = chat_run.name
    url = server + "/v1/chat/completions"
    msgs = [{"role": "user", "content": "hi"}]
    cases = [
        ({"model": name}, "messages"),
        ({"model": name, "messages": "hi"}, "messages"),
        ({"model": name, "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"model": name, "messages": msgs, "temperature": "hot"}, "temperature"),
        ({"model": name, "messages": msgs, "max_tokens": 100_000}, "max_tokens"),
        ({"model": "gpt-4", "messages": msgs}, "model"),
        ({"model": name, "messages": msgs, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": name, "messages": msgs, "logprobs": True}, None),
    ]
    for body, param in cases:
        r = httpx.post(url, json=body, headers=headers(), timeout=30)
        assert r.status_code == 400, (body, r.text)
        error = r.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"]
        if param:
            assert error["param"] == param, (body, error)
    r = httpx.post(url, content=b"{not json", headers=headers(), timeout=30)
    assert r.status_code == 400
    r = httpx.post(
        server + "/v1/completions",
        json={"model": name, "prompt": "x", "max_tokens": 100_000},
        headers=headers(),
        timeout=30,
    )
    assert r.status_code == 400 and "context" in r.json()["error"]["message"]


@pytest.mark.slow
def test_the_api_key_is_required(server):
    assert httpx.get(server + "/v1/models", timeout=30).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    r = httpx.get(server + "/v1/models", headers=wrong, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(server + "/health", timeout=30).status_code == 200  # probes need no key


def _health(server: str) -> dict:
    return httpx.get(server + "/health", timeout=30).json()


def _wait_idle(server: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        h = _health(server)
        if h["running"] == 0 and h["waiting"] == 0:
            return h
        if time.monotonic() > deadline:
            pytest.fail(f"requests still running: {h}")
        time.sleep(0.05)


@pytest.mark.slow
def test_beyond_the_queue_limit_requests_get_429(server, chat_run):
    """2 slots and a queue of 2: of 10 long requests sent at once, some are refused."""
    _wait_idle(server)
    body = {
        "model": chat_run.name,
        "prompt": "the",
        "max_tokens": 180,
        "ignore_eos": True,
        "temperature": 0,
    }
    codes: list[int] = []
    start = threading.Barrier(10)

    def send() -> None:
        start.wait()
        r = httpx.post(server + "/v1/completions", json=body, headers=headers(), timeout=120)
        codes.append(r.status_code)
        if r.status_code == 429:
            assert r.headers["retry-after"] == "1"
            assert r.json()["error"]["code"] == "queue_full"

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(codes) <= {200, 429} and 429 in codes and 200 in codes
    assert codes.count(200) >= 2
    assert _wait_idle(server)["stats"]["rejected"] >= codes.count(429)


@pytest.mark.slow
def test_a_client_that_disconnects_mid_stream_frees_its_slot(server, chat_run):
    before = _wait_idle(server)["stats"]
    body = {
        "model": chat_run.name,
        "prompt": "the",
        "max_tokens": 185,
        "ignore_eos": True,
        "stream": True,
    }
    with (
        httpx.Client(timeout=60) as http,
        http.stream("POST", server + "/v1/completions", json=body, headers=headers()) as r,
    ):
        assert r.status_code == 200
        lines = r.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert json.loads(first[6:])["choices"][0]["finish_reason"] is None
    after = _wait_idle(server)["stats"]
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["finished"] == before["finished"]
    # the freed slot serves the next request
    r = httpx.post(
        server + "/v1/completions",
        json={**body, "stream": False, "max_tokens": 3},
        headers=headers(),
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 3


@contextlib.contextmanager
def in_process_server(engine: Engine) -> Iterator[str]:
    """The app over `engine` on uvicorn in a thread (model name "m"); its base URL."""
    import uvicorn

    from corpuskit.serving.server import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(engine, model_name="m"), host="127.0.0.1", port=port, log_level="error"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not srv.started and time.monotonic() < deadline:
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.mark.slow
def test_a_client_that_stops_waiting_for_a_whole_reply_frees_its_slot(chat_run):
    """Non-streaming: the server notices the hang-up while the reply is being generated
    (each step slowed to 20 ms, so 150 tokens take 3 s; the client leaves after 0.5 s)."""
    from corpuskit.training.launch import load_run

    trainer, _ = load_run(chat_run)

    def load():
        gen = trainer.generator(chat_run, slots=1)
        step = gen.step

        def slow_step():
            time.sleep(0.02)
            return step()

        gen.step = slow_step
        return gen

    engine = Engine(load)
    body = {"model": "m", "prompt": "the", "max_tokens": 150, "ignore_eos": True}
    with in_process_server(engine) as base:
        engine.wait_ready(60)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(base + "/v1/completions", json=body, timeout=httpx.Timeout(10, read=0.5))
        deadline = time.monotonic() + 10
        while engine.running and time.monotonic() < deadline:
            time.sleep(0.02)
        assert engine.running == 0
        assert engine.stats.cancelled == 1 and engine.stats.finished == 0
        r = httpx.post(base + "/v1/completions", json={**body, "max_tokens": 2}, timeout=30)
        assert r.status_code == 200 and engine.stats.finished == 1


@pytest.mark.slow
def test_health_is_503_while_the_model_loads(chat_run):
    load, gate = gated_load(chat_run)
    try:
        with in_process_server(Engine(load)) as base:
            r = httpx.get(base + "/health", timeout=10)
            assert r.status_code == 503 and r.json()["status"] == "loading"
            r = httpx.post(base + "/v1/completions", json={"model": "m", "prompt": "x"}, timeout=10)
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            gate.set()
            deadline = time.monotonic() + 60
            while httpx.get(base + "/health", timeout=10).status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            r = httpx.post(
                base + "/v1/completions", json={"model": "m", "prompt": "the"}, timeout=30
            )
            assert r.status_code == 200
    finally:
        gate.set()


# --- the terminal chat ----------------------------------------------------------------
@pytest.mark.slow
def test_terminal_chat_keeps_history_and_takes_commands(chat_run):
    script = "/system You reverse words.\nthe king\n/reset\nrepeat: a lord\n/nope\n/exit\n"
    result = CliRunner().invoke(
        main, ["chat", str(chat_run), "--temperature", "0", "--max-tokens", "12"], input=script
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "[system: You reverse words.; conversation cleared]" in out
    assert out.count("assistant> ") == 2
    assert "[conversation cleared]" in out
    assert "unknown command /nope" in out


class Recorder:
    """A text stream that keeps every write (to see replies arrive piece by piece)."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass


@pytest.mark.slow
def test_chat_session_sends_the_history_and_streams_the_reply(chat_run):
    from corpuskit.serving.chat import ChatSession, Settings
    from corpuskit.training.launch import load_run

    trainer, _ = load_run(chat_run)
    gen = trainer.generator(chat_run, slots=1)
    prompts: list[list[int]] = []
    add = gen.add

    def spy(seq, prompt, params):
        prompts.append(prompt)
        add(seq, prompt, params)

    gen.add = spy
    session = ChatSession(gen, Settings(temperature=0, max_tokens=8), "You reverse words.")
    out = Recorder()
    first = session.reply("the king", out)
    pieces = [w for w in out.writes if w and w != "\n"]
    assert "".join(pieces) == first
    assert len(first) <= 1 or len(pieces) > 1  # streamed token by token, not at the end
    second = session.reply("a lord", Recorder())
    system = {"role": "system", "content": "You reverse words."}
    assert session.history == [
        {"role": "user", "content": "the king"},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "a lord"},
        {"role": "assistant", "content": second},
    ]
    assert prompts[1] == gen.chat_prompt([system, *session.history[:3]])
    session.reset()
    assert session.history == [] and session.messages() == [system]
    session.reset("Be brief.", keep_system=False)
    assert session.messages() == [{"role": "system", "content": "Be brief."}]


def test_serve_without_the_http_stack_says_how_to_install_it(tmp_path):
    env = dict(os.environ)
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\nsys.modules['fastapi'] = None\nsys.modules['uvicorn'] = None\n"
    )
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), env.get("PYTHONPATH", "")])
    r = subprocess.run(
        [*corpuskit_cmd(), "serve", str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert r.returncode != 0
    assert "pip install 'corpuskit[serve]'" in r.stderr + r.stdout
