"""A real HTTP server that replays scripted answers, for testing the client over the wire.

Each request to ``POST /v1/chat/completions`` gets the next `Reply` of the script (the last one
repeats once the script is used up) and is recorded (JSON body and headers) for assertions on
what the client actually sent. Faults are part of a reply: omit ``[DONE]`` (replay exactly what
is listed), drop the connection after k events, insert a malformed chunk, wait before answering
(a hang) or between events (a trickle).

Usage from a sync test::

    async def scenario() -> Attempt:
        async with WireServer([Reply(sse=[chunk, "[DONE]"])]) as server:
            async with Client(server.endpoint()) as client:
                return await client.complete(body)

    attempt = asyncio.run(scenario())
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from harness.endpoints import Endpoint, Limits

#: The transport `WireServer.endpoint()` uses unless told (the `each_transport` fixture sets it).
TRANSPORT = "direct"


@dataclass
class Reply:
    """One scripted answer.

    `sse` items: a dict or list is sent as ``data: <json>``, a str as ``data: <str>`` (so
    ``"[DONE]"`` is the end marker), bytes are written as they are (raw SSE text). Nothing is
    added: a capture without ``[DONE]`` is replayed without it. Without `sse`, the reply is
    `json` (serialised) or `body`, with `status` and `headers`.
    """

    status: int = 200
    sse: Sequence[Any] | None = None
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None
    """Drop the connection after this many events (no final chunk, no clean end)."""
    malformed_at: int | None = None
    """Send a line that is not JSON before the event at this position."""
    delay_s: float = 0.0
    """Wait before answering at all (a hang, when longer than the client's timeout)."""
    chunk_delay_s: float = 0.0
    """Wait before every event (a trickle)."""
    echo_auth: bool = False
    """Replace ``{authorization}`` in what is sent by the request's Authorization header, like a
    careless server that quotes the key back in its error message."""


def sse_line(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return b"data: " + item.encode() + b"\n\n"
    return b"data: " + orjson.dumps(item) + b"\n\n"


class WireServer:
    """Async context manager: serves `replies` on 127.0.0.1, a free port."""

    def __init__(self, replies: Sequence[Reply]) -> None:
        if not replies:
            raise ValueError("at least one reply")
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def endpoint(self, **fields: Any) -> Endpoint:
        """An endpoint aimed at this server (fast limits unless given)."""
        data: dict[str, Any] = {"name": "wire", "base_url": self.url, "model": "m"}
        data["limits"] = Limits(timeout_s=5, max_retries=0)
        data["transport"] = TRANSPORT
        data.update(fields)
        return Endpoint(**data)

    async def __aenter__(self) -> WireServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        n = len(self.requests)
        self.requests.append(orjson.loads(await request.read()))
        self.headers.append(dict(request.headers))
        reply = self.replies[min(n, len(self.replies) - 1)]
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        auth = request.headers.get("Authorization", "").encode()

        def echo(data: bytes) -> bytes:
            return data.replace(b"{authorization}", auth) if reply.echo_auth else data

        if reply.sse is None:
            body = echo(reply.body if reply.body is not None else orjson.dumps(reply.json))
            headers = {"Content-Type": "application/json", **reply.headers}
            return web.Response(status=reply.status, body=body, headers=headers)
        response = web.StreamResponse(
            status=reply.status,
            headers={"Content-Type": "text/event-stream", **reply.headers},
        )
        await response.prepare(request)
        for i, item in enumerate(reply.sse):
            if reply.cut_after is not None and i >= reply.cut_after:
                break
            if reply.malformed_at == i:
                await response.write(b'data: {"choices": [{"delta": {"content": "tru\n\n')
            if reply.chunk_delay_s:
                await asyncio.sleep(reply.chunk_delay_s)
            await response.write(echo(sse_line(item)))
        if reply.cut_after is not None:
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write_eof()
        return response
