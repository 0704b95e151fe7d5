"""Session fixtures: tiny scripted models served by a real ``transformers serve`` process.

Fixtures (all session-scoped):

* ``engine_models`` -> :class:`EngineModels`: both model folders, built once per session
  (a few seconds, nothing downloaded).
* ``engine_server`` -> :class:`EngineServer`: one ``transformers serve`` subprocess on
  127.0.0.1 and a free port, not pinned to a model: it loads whichever folder a request's
  ``model`` names, so one process serves both models.
* ``chat_engine`` / ``tool_engine`` -> :class:`EngineTarget` ``(base_url, model)``, a tuple:
  ``base_url`` ends in ``/v1`` (pass it to ``openai.OpenAI(base_url=...)``) and ``model`` is
  the model folder, which is what a request's ``model`` must be. The model is loaded (``POST
  /load_model``) before the fixture returns, so tests do not pay the load time.

Everything skips with a reason when torch / transformers / tokenizers / the serving extras are
not importable. Mark tests with ``pytest.mark.engine``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest

STARTUP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


class EngineTarget(NamedTuple):
    """What a test needs to call one model: ``base_url, model = chat_engine``."""

    base_url: str
    model: str


@dataclass(frozen=True)
class EngineModels:
    root: Path
    chat: Path
    tool: Path
    build_s: float


@dataclass
class EngineServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    root_url: str  # http://127.0.0.1:PORT (has /health)
    process: subprocess.Popen[bytes]
    log_path: Path
    startup_s: float
    first_request_s: dict[str, float]  # model path -> seconds to load it (POST /load_model)

    def log_tail(self, chars: int = 4000) -> str:
        return _tail(self.log_path, chars)


def _require_engine() -> None:
    """Skip unless the real engine can run here (CI sets HARNESS_REQUIRE_ENGINE=1: fail instead)."""
    if os.environ.get("HARNESS_REQUIRE_ENGINE") == "1":
        import torch  # noqa: F401  (an ImportError here fails the session, as CI wants)
        import transformers  # noqa: F401
    for module in ("torch", "transformers", "tokenizers"):
        pytest.importorskip(module, reason=f"engine tests need {module} (pip install .[engines])")
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        pytest.skip("engine tests need transformers[serving] (fastapi, uvicorn, openai)")


def _tail(path: Path, chars: int) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str, timeout: float) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        status: int = response.status
        return status


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it does not exit in time."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=STOP_TIMEOUT_S)


@dataclass
class _Launch:
    process: subprocess.Popen[bytes]
    root_url: str
    log_path: Path
    began: float


def _launch_server(workdir: Path, attempt: int) -> _Launch:
    hub_cache = workdir / "hf-hub-cache"  # empty on purpose: nothing may come from a hub
    hub_cache.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_CACHE=str(hub_cache),
        HF_HUB_DISABLE_UPDATE_CHECK="1",  # the CLI would otherwise ask PyPI for a newer version
        HF_HUB_DISABLE_TELEMETRY="1",
        TOKENIZERS_PARALLELISM="false",
    )
    port = _free_port()
    log_path = workdir / f"serve-{attempt}.log"
    command = [
        sys.executable,
        "-m",
        "transformers.cli.transformers",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--model-timeout",
        "-1",  # never unload an idle model mid-session
    ]
    began = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
            start_new_session=True,  # own process group, killed as a whole at teardown
        )
    return _Launch(process, f"http://127.0.0.1:{port}", log_path, began)


def _wait_healthy(launch: _Launch) -> float:
    """Poll ``/health`` until it answers 200; return seconds since launch."""
    deadline = launch.began + STARTUP_TIMEOUT_S
    while time.perf_counter() < deadline:
        if launch.process.poll() is not None:
            break
        try:
            if _get(f"{launch.root_url}/health", timeout=2.0) == 200:
                return time.perf_counter() - launch.began
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    _stop(launch.process)
    raise RuntimeError(
        f"transformers serve did not become healthy on {launch.root_url} "
        f"(exit code {launch.process.returncode}); log tail:\n{_tail(launch.log_path, 4000)}"
    )


@pytest.fixture(scope="session")
def engine_models(tmp_path_factory: pytest.TempPathFactory) -> EngineModels:
    _require_engine()
    from .build import build_all

    root = tmp_path_factory.mktemp("engine-models")
    began = time.perf_counter()
    paths = build_all(root)
    return EngineModels(
        root=root, chat=paths["chat"], tool=paths["tool"], build_s=time.perf_counter() - began
    )


@pytest.fixture(scope="session")
def engine_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngineServer]:
    _require_engine()
    workdir = tmp_path_factory.mktemp("engine-server")
    errors: list[str] = []
    for attempt in range(3):  # the probed free port can be taken before the server binds it
        launch = _launch_server(workdir, attempt)
        try:
            # The server spends its first seconds importing torch: build the models meanwhile.
            request.getfixturevalue("engine_models")
        except BaseException:
            _stop(launch.process)
            raise
        try:
            startup_s = _wait_healthy(launch)  # stops the process itself when it fails
        except RuntimeError as exc:
            errors.append(str(exc))
            continue
        server = EngineServer(
            base_url=f"{launch.root_url}/v1",
            root_url=launch.root_url,
            process=launch.process,
            log_path=launch.log_path,
            startup_s=startup_s,
            first_request_s={},
        )
        try:
            yield server
        finally:
            _stop(launch.process)
        return
    raise RuntimeError("\n\n".join(errors))


def _warm_target(server: EngineServer, model: Path) -> EngineTarget:
    """Load ``model`` into the server (``POST /load_model``) and return its target.

    Not a tiny chat request: ``max_tokens=1`` cuts the tool model's call short, which
    transformers serve answers with a 500 when not streaming.
    """
    began = time.perf_counter()
    request = urllib.request.Request(
        f"{server.root_url}/load_model",
        data=json.dumps({"model": str(model)}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    events: list[dict[str, object]] = []
    try:
        with urllib.request.urlopen(request, timeout=STARTUP_TIMEOUT_S) as response:
            for raw in response:
                line = raw.decode().strip()
                if line.startswith("data: "):
                    events.append(json.loads(line.removeprefix("data: ")))
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise RuntimeError(f"loading {model} failed: {exc}; log:\n{server.log_tail()}") from exc
    if not events or events[-1].get("status") != "ready":
        raise RuntimeError(f"loading {model} failed: {events}; log:\n{server.log_tail()}")
    server.first_request_s[str(model)] = time.perf_counter() - began
    return EngineTarget(server.base_url, str(model))


@pytest.fixture(scope="session")
def chat_engine(engine_server: EngineServer, engine_models: EngineModels) -> EngineTarget:
    """``(base_url, model)`` of a model that answers ``build.CHAT_ANSWER`` then stops."""
    return _warm_target(engine_server, engine_models.chat)


@pytest.fixture(scope="session")
def tool_engine(engine_server: EngineServer, engine_models: EngineModels) -> EngineTarget:
    """``(base_url, model)`` of a model that calls ``get_weather({"city": "Paris"})``."""
    return _warm_target(engine_server, engine_models.tool)
