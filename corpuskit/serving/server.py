"""The OpenAI-compatible HTTP server: FastAPI routes over the Engine.

    GET  /health                 200 when the model is loaded, 503 while loading or failed
    GET  /v1/models              the one model served
    POST /v1/completions         text completion (stream: true -> server-sent events)
    POST /v1/chat/completions    chat through the model's chat template (ditto)

Errors have the OpenAI shape `{"error": {"message", "type", "param", "code"}}`: 400 for
a request that cannot run (validation, unknown model, max_tokens beyond the context),
401 for a missing or wrong API key, 429 when the queue is full (with Retry-After), 503
while the model loads. A client that disconnects (mid-stream, or while it waits for a
whole reply) frees its slot at once.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from corpuskit.serving.engine import Engine, EngineNotReady, Failure, QueueFull, Ticket
from corpuskit.serving.generator import Delta, PromptTooLong, SamplingParams
from corpuskit.serving.protocol import ChatRequest, CompletionRequest, Sampling


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind
        self.param, self.code, self.headers = param, code, headers

    def response(self) -> JSONResponse:
        return JSONResponse(
            error_body(self.message, self.kind, self.param, self.code),
            status_code=self.status,
            headers=self.headers,
        )


class ClientGone(Exception):
    """The client closed the connection before its reply was complete."""


GONE = object()  # put in a Run's queue when its client disconnects


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None):
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass
class Run:
    """The tickets of one request (n choices) and the queue their deltas arrive in."""

    tickets: list[Ticket]
    queue: asyncio.Queue
    prompt_tokens: int
    finished: dict[int, str] = field(default_factory=dict)
    tokens: dict[int, int] = field(default_factory=dict)

    def cancel(self) -> None:
        for t in self.tickets:
            t.cancel()

    @property
    def usage(self) -> dict[str, int]:
        done = sum(self.tokens.values())
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": done,
            "total_tokens": self.prompt_tokens + done,
        }

    async def events(self) -> AsyncIterator[tuple[int, Delta]]:
        """(choice index, delta) until every choice has finished; raises on a failure."""
        while len(self.finished) < len(self.tickets):
            index, item = await self.queue.get()
            if item is GONE:
                raise ClientGone
            if isinstance(item, Failure):
                raise ApiError(500, f"generation failed: {item.message}", "server_error")
            self.tokens[index] = item.completion_tokens
            if item.finish is not None:
                self.finished[index] = item.finish
            yield index, item


def create_app(engine: Engine, api_key: str | None = None, model_name: str | None = None):
    """The FastAPI app serving `engine`'s model (named `model_name`, default its own).

    The engine starts (and loads the model in its thread) when the server starts, so
    /health answers 503 while it loads; it stops when the server shuts down.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        engine.start()
        try:
            yield
        finally:
            engine.stop()

    app = FastAPI(title="corpuskit", docs_url=None, redoc_url=None, lifespan=lifespan)
    started = int(time.time())

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, e: ApiError) -> JSONResponse:
        return e.response()

    @app.exception_handler(ClientGone)
    async def _gone(_: Request, e: ClientGone) -> Response:
        return Response(status_code=499)  # nobody reads it; nginx's "client closed request"

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        loc = [str(x) for x in first.get("loc", ()) if x != "body"]
        param = ".".join(loc) or None
        messages = []
        for err in e.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
            messages.append(f"{where}: {err.get('msg')}")
        return ApiError(400, "; ".join(messages), param=param).response()

    def name() -> str:
        gen = engine.generator
        return model_name or (gen.name if gen else "model")

    def authorize(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise ApiError(401, "invalid or missing API key", code="invalid_api_key")

    def ready():
        if engine.state == "ready" and engine.generator is not None:
            return engine.generator
        message = engine.error or "the model is loading; retry shortly"
        raise ApiError(503, message, "service_unavailable", headers={"Retry-After": "1"})

    @app.get("/health")
    async def health() -> JSONResponse:
        body: dict[str, Any] = {"status": engine.state}
        if engine.error:
            body["error"] = engine.error
        gen = engine.generator
        if gen is not None:
            body.update(
                model=name(),
                context_length=gen.context_length,
                slots=gen.slots,
                max_queue=engine.max_queue,
                running=engine.running,
                waiting=engine.waiting,
                stats=vars(engine.stats),
            )
        return JSONResponse(body, status_code=200 if engine.state == "ready" else 503)

    @app.get("/v1/models")
    async def models(request: Request) -> dict:
        authorize(request)
        gen = ready()
        card = {"id": name(), "object": "model", "created": started, "owned_by": "corpuskit"}
        card["context_length"] = gen.context_length
        return {"object": "list", "data": [card]}

    def start(body: Sampling, prompt: list[int], param: str) -> Run:
        gen = ready()
        if body.model != name():
            raise ApiError(
                400,
                f"model {body.model!r} is not served here; this server has {name()!r}",
                param="model",
                code="model_not_found",
            )
        try:
            gen.room(prompt, body.token_limit)
        except PromptTooLong as e:
            raise ApiError(400, str(e), param="max_tokens" if body.token_limit else param) from None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        tickets: list[Ticket] = []
        for index in range(body.n):
            seed = None if body.seed is None else body.seed + index
            params = SamplingParams(
                max_tokens=body.token_limit,
                temperature=body.temperature,
                top_p=body.top_p,
                top_k=body.top_k,
                seed=seed,
                stop=body.stops,
                ignore_eos=body.ignore_eos,
            )

            def sink(item: Delta | Failure, index: int = index) -> None:
                loop.call_soon_threadsafe(queue.put_nowait, (index, item))

            try:
                tickets.append(engine.submit(prompt, params, sink))
            except QueueFull as e:
                for t in tickets:
                    t.cancel()
                raise ApiError(
                    429, str(e), "rate_limit_error", code="queue_full", headers={"Retry-After": "1"}
                ) from None
            except EngineNotReady:
                ready()
        return Run(tickets, queue, len(prompt))

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request):
        authorize(request)
        gen = ready()
        try:
            prompt = gen.chat_prompt(body.conversation())
        except ValueError as e:
            raise ApiError(400, str(e), param="messages") from None
        run = start(body, prompt, "messages")
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        head = {"id": ident, "created": created, "model": name()}
        if body.stream:
            return sse(chat_chunks(run, head, body.include_usage), run)
        texts = await collect(run, body.n, request)
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": texts[i]},
                "finish_reason": run.finished[i],
                "logprobs": None,
            }
            for i in range(body.n)
        ]
        return {**head, "object": "chat.completion", "choices": choices, "usage": run.usage}

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request):
        authorize(request)
        gen = ready()
        prompt_text = body.prompt if isinstance(body.prompt, str) else body.prompt[0]
        run = start(body, gen.encode(prompt_text), "prompt")
        ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
        head = {"id": ident, "created": created, "model": name()}
        echo = prompt_text if body.echo else ""
        if body.stream:
            return sse(completion_chunks(run, head, body.include_usage, echo, body.n), run)
        texts = await collect(run, body.n, request)
        choices = [
            {
                "index": i,
                "text": echo + texts[i],
                "finish_reason": run.finished[i],
                "logprobs": None,
            }
            for i in range(body.n)
        ]
        return {**head, "object": "text_completion", "choices": choices, "usage": run.usage}

    return app


async def collect(run: Run, n: int, request: Request) -> list[str]:
    """The whole text of each choice; ClientGone (slots freed) if the client leaves first."""
    watcher = asyncio.create_task(_watch_disconnect(request, run))
    texts = [""] * n
    try:
        async for index, delta in run.events():
            texts[index] += delta.text
    finally:
        watcher.cancel()
        run.cancel()  # a no-op for finished tickets; frees the slots of a dropped client
    return texts


async def _watch_disconnect(request: Request, run: Run) -> None:
    """Wait for the client to hang up (the body is read: the next ASGI message is
    http.disconnect), then cancel the run and wake its reader."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    run.cancel()
    run.queue.put_nowait((-1, GONE))


def sse(events: AsyncIterator[dict], run: Run) -> StreamingResponse:
    """Server-sent events: one `data: {json}` per chunk, then `data: [DONE]`."""

    async def body() -> AsyncIterator[str]:
        try:
            try:
                async for chunk in events:
                    yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
            except ApiError as e:
                yield f"data: {json.dumps(error_body(e.message, e.kind, e.param, e.code))}\n\n"
            yield "data: [DONE]\n\n"
        finally:
            run.cancel()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


async def chat_chunks(run: Run, head: dict, include_usage: bool) -> AsyncIterator[dict]:
    base = {**head, "object": "chat.completion.chunk"}
    extra = {"usage": None} if include_usage else {}
    for i in range(len(run.tickets)):
        delta = {"role": "assistant", "content": ""}
        yield {**base, "choices": [_choice(i, delta=delta)], **extra}
    async for index, d in run.events():
        if d.text:
            yield {**base, "choices": [_choice(index, delta={"content": d.text})], **extra}
        if d.finish is not None:
            yield {**base, "choices": [_choice(index, delta={}, finish=d.finish)], **extra}
    if include_usage:
        yield {**base, "choices": [], "usage": run.usage}


async def completion_chunks(
    run: Run, head: dict, include_usage: bool, echo: str, n: int
) -> AsyncIterator[dict]:
    base = {**head, "object": "text_completion"}
    extra = {"usage": None} if include_usage else {}
    if echo:
        for i in range(n):
            yield {**base, "choices": [_choice(i, text=echo)], **extra}
    async for index, d in run.events():
        if d.text or d.finish is not None:
            yield {**base, "choices": [_choice(index, text=d.text, finish=d.finish)], **extra}
    if include_usage:
        yield {**base, "choices": [], "usage": run.usage}


def _choice(index: int, finish: str | None = None, **content: Any) -> dict:
    return {"index": index, **content, "logprobs": None, "finish_reason": finish}
