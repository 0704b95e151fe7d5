"""Just enough of the Chrome DevTools Protocol to drive headless Debian chromium from a test.

No new dependencies: the browser is started with ``--remote-debugging-port=0``, the port is
read from ``DevToolsActivePort`` in its profile folder, and commands go over aiohttp's
websocket client. Console messages, uncaught exceptions and log entries are collected so a
test can assert that a page ran without errors.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    for c in CHROMIUM_CANDIDATES:
        path = shutil.which(c)
        if path:
            return path
    return None


class Browser:
    """A headless chromium with one page; use as ``async with Browser(exe, tmp) as page``."""

    def __init__(self, exe: str, profile: Path) -> None:
        self.exe = exe
        self.profile = profile
        self.proc: subprocess.Popen[bytes] | None = None
        self.scratch: str | None = None
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.waiters: list[tuple[str, asyncio.Future[dict[str, Any]]]] = []
        self.reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Browser:
        try:
            return await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)  # never leave a browser behind
            raise

    async def _start(self) -> Browser:
        self.profile.mkdir(parents=True, exist_ok=True)
        args = [
            self.exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
            f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ]
        # Chromium writes crash-report settings, dconf and temp dirs under HOME / XDG / TMPDIR
        # whatever --user-data-dir says: give it a short private folder (its singleton socket
        # path must stay under ~108 bytes, so not inside pytest's long tmp paths), removed on exit.
        self.scratch = tempfile.mkdtemp(prefix="hc-")
        env = {
            **os.environ,
            "HOME": self.scratch,
            "XDG_CONFIG_HOME": f"{self.scratch}/.config",
            "XDG_CACHE_HOME": f"{self.scratch}/.cache",
            "TMPDIR": self.scratch,
        }
        # Popen returns at once (no waiting on the child), so it does not block the loop.
        self.proc = subprocess.Popen(  # noqa: ASYNC220
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        port_file = self.profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.is_file() and len(port_file.read_text().splitlines()) >= 2:
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("chromium did not write DevToolsActivePort within 15 s")
        port = int(port_file.read_text().splitlines()[0])
        self.session = aiohttp.ClientSession()
        targets: list[dict[str, Any]] = []
        for _ in range(100):
            async with self.session.get(f"http://127.0.0.1:{port}/json/list") as resp:
                targets = [t for t in await resp.json() if t.get("type") == "page"]
            if targets:
                break
            await asyncio.sleep(0.05)
        if not targets:
            async with self.session.put(f"http://127.0.0.1:{port}/json/new?about:blank") as resp:
                targets = [await resp.json()]
        self.ws = await self.session.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0)
        self.reader = asyncio.create_task(self._read())
        for domain in ("Runtime", "Log", "Page"):
            await self.send(f"{domain}.enable")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        if self.ws is not None:
            await self.ws.close()
        if self.session is not None:
            await self.session.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = msg.json()
            if "id" in data:
                fut = self.pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(data)
                continue
            self.events.append(data)
            for name, fut in list(self.waiters):
                if data.get("method") == name and not fut.done():
                    fut.set_result(data)
                    self.waiters.remove((name, fut))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        assert self.ws is not None
        i = next(self.ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[i] = fut
        await self.ws.send_json({"id": i, "method": method, "params": params})
        reply = await asyncio.wait_for(fut, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def navigate(self, url: str) -> None:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters.append(("Page.loadEventFired", fut))
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(fut, 30)

    async def eval(self, expression: str) -> Any:
        """Evaluate JS in the page; returns the value, raises on a thrown exception."""
        res = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in res:
            raise RuntimeError(f"JS error: {res['exceptionDetails']}")
        return res["result"].get("value")

    async def screenshot(self) -> bytes:
        """The visible viewport as PNG bytes."""
        res = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        return base64.b64decode(res["data"])

    def problems(self) -> list[str]:
        """Console errors/warnings, uncaught exceptions and error log entries seen so far."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                details = p.get("exceptionDetails", {})
                out.append(f"exception: {details.get('text')} {details}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                args = [a.get("value", a.get("description")) for a in p.get("args", [])]
                out.append(f"console.{p.get('type')}: {args}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(f"log: {p['entry'].get('text')} ({p['entry'].get('url', '')})")
        return out
