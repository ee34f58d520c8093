"""Load test of `corpuskit serve` (loopback only, bounded), next to a plain transformers loop.

    python bench/bench_serve.py runs/chat-sft --concurrency 16 --max-tokens 40
    python bench/bench_serve.py runs/chat-sft --sequential 500          # memory over time

1. Starts `corpuskit serve RUN_DIR` on 127.0.0.1 (a free port, --slots = concurrency).
2. Sends `--concurrency` streaming chat requests at once (held-out-style prompts, fixed
   length: `ignore_eos` and `max_tokens`), parses the server-sent events: time to first
   token per request, tokens per request (the usage chunk), wall time; every request
   must finish with [DONE] and the full token count (no request lost).
3. Sends `--sequential` requests one after the other (non-streaming, short) and samples the
   server's RSS every 50: memory must stay flat.
4. In this process, with the same thread count: a plain transformers loop, one
   `model.generate(...)` per prompt (greedy, `min_new_tokens` = `max_new_tokens`, the
   same prompts through the same chat template), timing first token with a streamer.
Prints TTFT p50/p99, tokens/s overall and per request for both, the ratio, and the load.
The loop's TTFT is its own request's; `ttft_queued` adds the wait behind the requests
before it, as if the loop served the same burst.
Every wait is bounded (`--timeout`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

PROMPTS = [
    "Translate into Chinese: The weather is nice today.",
    "把这句话翻译成英文：我明天去北京。",
    "How do you say this in Chinese? I like reading books.",
    "请用英语说：他是我的朋友。",
    "给这段新闻分类：湖人队昨晚在主场战胜了马刺队，拜纳姆伤愈复出。",
    "这条新闻属于哪个栏目？体育、娱乐、家居、房产、教育、时尚、时政、游戏、科技、财经\n央行宣布下调存款准备金率",
    "Translate into Chinese: Where is the train station?",
    "请用英语说：我们一起去吃饭吧。",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def start_server(run_dir: Path, slots: int, threads: int, timeout: float):
    port = free_port()
    cmd = [sys.executable, "-m", "corpuskit.cli", "serve", str(run_dir), "--port", str(port)]
    cmd += ["--slots", str(slots), "--max-queue", str(4 * slots), "--threads", str(threads)]
    cmd += ["--log-level", "warning"]
    proc = subprocess.Popen(cmd)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server was not ready in {timeout} s")


async def stream_one(http: httpx.AsyncClient, base: str, model: str, prompt: str, n: int):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": n,
        "temperature": 0,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    sent = time.perf_counter()
    first = None
    usage = None
    done = False
    async with http.stream("POST", base + "/v1/chat/completions", json=body) as r:
        if r.status_code != 200:
            raise SystemExit(f"{r.status_code}: {(await r.aread()).decode()[:300]}")
        async for line in r.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                done = True
                break
            chunk = json.loads(data)
            if chunk.get("usage"):
                usage = chunk["usage"]
            for c in chunk.get("choices", []):
                if first is None and c.get("delta", {}).get("content"):
                    first = time.perf_counter()
    end = time.perf_counter()
    tokens = usage["completion_tokens"] if usage else 0
    return {"ttft": (first or end) - sent, "seconds": end - sent, "tokens": tokens, "done": done}


async def burst(base: str, model: str, concurrency: int, n: int, timeout: float) -> dict:
    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        started = time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(
                *(
                    stream_one(http, base, model, PROMPTS[i % len(PROMPTS)], n)
                    for i in range(concurrency)
                )
            ),
            timeout,
        )
        wall = time.perf_counter() - started
    return {"results": results, "wall": wall}


def sequential_memory(base: str, model: str, count: int, pid: int, timeout: float) -> list:
    proc = psutil.Process(pid)
    samples = []
    started = time.perf_counter()
    with httpx.Client(timeout=timeout) as http:
        for i in range(count):
            body = {
                "model": model,
                "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
                "max_tokens": 16,
                "temperature": 0.7,
                "seed": i,
            }
            http.post(base + "/v1/chat/completions", json=body).raise_for_status()
            if i % 50 == 0 or i == count - 1:
                samples.append((i + 1, proc.memory_info().rss / 2**20))
    seconds = time.perf_counter() - started
    print(f"{count} sequential requests in {seconds:.1f} s ({count / seconds:.1f} requests/s)")
    return samples


def transformers_loop(run_dir: Path, concurrency: int, n: int, threads: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

    torch.set_num_threads(threads)
    folder = run_dir / "model"
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    results = []
    started = time.perf_counter()
    for i in range(concurrency):
        messages = [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
        inputs = tok.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        streamer = TextIteratorStreamer(tok, skip_prompt=True)
        kwargs = dict(
            **inputs,
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            streamer=streamer,
            pad_token_id=tok.eos_token_id,
        )
        sent = time.perf_counter()
        worker = threading.Thread(target=model.generate, kwargs=kwargs)
        worker.start()
        first = None
        for piece in streamer:
            if first is None and piece:
                first = time.perf_counter()
        worker.join()
        end = time.perf_counter()
        results.append(
            {
                "ttft": (first or end) - sent,
                "ttft_queued": (first or end) - started,  # had the 16 arrived together
                "seconds": end - sent,
                "tokens": n,
            }
        )
    return {"results": results, "wall": time.perf_counter() - started}


def summarize(name: str, run: dict) -> dict:
    rs = run["results"]
    ttft = [r["ttft"] * 1000 for r in rs]
    tokens = sum(r["tokens"] for r in rs)
    per = [r["tokens"] / r["seconds"] for r in rs if r["seconds"] > 0]
    row = {
        "side": name,
        "requests": len(rs),
        "tokens": tokens,
        "wall_s": round(run["wall"], 2),
        "ttft_p50_ms": round(percentile(ttft, 50), 1),
        "ttft_p99_ms": round(percentile(ttft, 99), 1),
        "tokens_per_s": round(tokens / run["wall"], 1),
        "per_request_tokens_per_s": round(statistics.median(per), 1),
    }
    if "ttft_queued" in rs[0]:
        queued = [r["ttft_queued"] * 1000 for r in rs]
        row["ttft_queued_p50_ms"] = round(percentile(queued, 50), 1)
        row["ttft_queued_p99_ms"] = round(percentile(queued, 99), 1)
    print(json.dumps(row))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=40)  # the longest prompt + 40 fit 128
    ap.add_argument("--sequential", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    proc, base = start_server(args.run_dir, args.concurrency, args.threads, args.timeout)
    try:
        model = httpx.get(base + "/v1/models", timeout=10).json()["data"][0]["id"]
        asyncio.run(burst(base, model, 2, 4, args.timeout))  # warm-up
        server = asyncio.run(burst(base, model, args.concurrency, args.max_tokens, args.timeout))
        lost = [r for r in server["results"] if not r["done"] or r["tokens"] != args.max_tokens]
        memory = (
            sequential_memory(base, model, args.sequential, proc.pid, args.timeout)
            if args.sequential
            else []
        )
        health = httpx.get(base + "/health", timeout=10).json()
    finally:
        proc.terminate()
        proc.wait(30)
    peer = transformers_loop(args.run_dir, args.concurrency, args.max_tokens, args.threads)
    a = summarize("corpuskit serve (continuous batching, streaming over HTTP)", server)
    b = summarize("transformers generate loop (in-process, one request at a time)", peer)
    print(f"requests lost: {len(lost)} of {len(server['results'])}")
    print(
        f"throughput ratio serve / transformers loop: {a['tokens_per_s'] / b['tokens_per_s']:.2f}x"
    )
    print(f"ttft p99 ratio serve / loop: {a['ttft_p99_ms'] / b['ttft_p99_ms']:.2f}x")
    print(
        "ttft p99 ratio serve / loop if the loop's requests had arrived together: "
        f"{a['ttft_p99_ms'] / b['ttft_queued_p99_ms']:.2f}x"
    )
    if memory:
        first, last = memory[0][1], memory[-1][1]
        after_warm = memory[min(2, len(memory) - 1)][1]
        print(
            f"server RSS over {args.sequential} sequential requests: "
            + ", ".join(f"{i}: {mb:.0f} MB" for i, mb in memory)
        )
        print(
            f"RSS growth first->last {last - first:+.1f} MB, after 100 requests->last "
            f"{last - after_warm:+.1f} MB"
        )
    print(f"server stats: {health.get('stats')}")
    print(f"load average after: {os.getloadavg()}")
    if lost:
        raise SystemExit(f"{len(lost)} requests lost or short")


if __name__ == "__main__":
    main()
