"""`harness sim`: the simulator as a foreground process, until Ctrl-C or SIGTERM.

Apart from `SimServer` because tests and the demo run the server inside their own process and
loop; only the command prints a banner and owns the process's signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING

from harness.sim._config import SimConfig
from harness.sim._server import SimServer

if TYPE_CHECKING:
    from harness.golden import Suite


def serve(
    suite: Suite | None, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 8765
) -> None:
    """Run the simulator until Ctrl-C or SIGTERM (the `harness sim` command)."""
    server = SimServer(suite, config, host, port)

    async def main() -> None:
        url = await server.start()
        cfg = server.config
        cases = len(suite.cases) if suite is not None else 0
        print(f"harness simulator (not a model) listening on {url}", flush=True)
        print(
            f"  model {server.model}, profile {cfg.profile}, {cases} cases, "
            f"faults {cfg.faults or 'none'}, latency {cfg.latency_s:g}s",
            flush=True,
        )
        if server.injected:
            print(
                f"  degraded profile (seed {cfg.seed}): {len(server.injected)} cases perturbed",
                flush=True,
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await server.stop()
            print("harness simulator stopped", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
