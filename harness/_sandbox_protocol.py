"""The harness's half of the contract with ``_sandbox_supervisor.py``.

What goes in (the files in the work dir, the config in argv, the environment) and what comes
back (the status lines) are written here, next to each other, so the two sides of the contract
can be read against each other: the supervisor is a standalone script and shares no code with
the harness.
"""

from __future__ import annotations

import contextlib
import functools
import marshal
import os
import site
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.sandbox import SandboxLimits

_ENV_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The supervisor runs as a script in a fresh interpreter (it never imports the harness), so it is
# read as source text once and written into each work dir. It reads its config from argv[1] and
# reports on status_fd.
_SUPERVISOR = Path(__file__).with_name("_sandbox_supervisor.py").read_text(encoding="utf-8")


def child_env(home: str) -> dict[str, str]:
    """The whole environment of the child: built from scratch so no secret is inherited."""
    return {
        "PATH": _ENV_PATH,
        "LANG": "C.UTF-8",
        "HOME": home,
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def prepare(
    workdir: str,
    code: str,
    tests: str,
    entry_point: str | None,
    limits: SandboxLimits,
    uid: int,
    status_fd: int,
) -> list[str]:
    """Write the inputs and the supervisor into ``workdir``; return the command line.

    ``-S -P`` instead of ``-I``: ``-E`` buys nothing when the environment is built from scratch,
    and honouring it is what makes ``PYTHONHASHSEED=0`` (reproducible set order) take effect.
    ``-S`` skips ``site``, whose ``.pth`` processing was ~3/4 of the start-up time; the
    supervisor puts this interpreter's site-packages on ``sys.path`` itself (see
    ``_site_packages``).
    """
    root = Path(workdir)
    (root / "solution.py").write_text(code, encoding="utf-8")
    (root / "tests.py").write_text(tests, encoding="utf-8")
    supervisor = root / "_supervisor.py"
    supervisor.write_text(_SUPERVISOR, encoding="utf-8")
    cfg = {
        "workdir": workdir,
        "entry_point": entry_point,
        "uid": uid,
        "status_fd": status_fd,
        "cpu_s": max(1, int(limits.cpu_s + 0.999)),
        "wall_s": limits.wall_s,
        "memory_bytes": limits.memory_mb * 1024 * 1024,
        "disk_mb": limits.disk_mb,
        "max_processes": limits.max_processes,
        "site_packages": _site_packages(),
        # The supervisor runs with -S, so its own sys.prefix is the base interpreter's: pass the
        # venv's root and bin/ (sys.executable) so a venv under /tmp or a 0700 home stays reachable.
        "interpreter_roots": [sys.prefix, os.path.dirname(sys.executable)],
    }
    # marshal: the supervisor is this same interpreter, and unlike json it costs no imports.
    return [sys.executable, "-S", "-P", str(supervisor), marshal.dumps(cfg).hex()]


@functools.cache
def _site_packages() -> list[str]:
    """site-packages of the harness's interpreter (venv-aware), without the ``.pth`` extras.

    Packages installed normally are importable in the sandbox; editable installs and other
    ``.pth`` path hooks are not, which also keeps the harness itself out of reach.
    """
    return [p for p in site.getsitepackages() if os.path.isdir(p)]


def read_status(fd: int) -> tuple[dict[str, bool], set[str]]:
    """Parse the status pipe: ``layers name=0|1 ...`` lines, then bare markers (done, memory).

    The first value of each layer key wins: those lines are written by trusted code before the
    solution is imported, so later forgeries cannot override them.
    """
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError, OSError):
        while len(data) < 1 << 20 and (chunk := os.read(fd, 65536)):
            data += chunk
    layers: dict[str, bool] = {}
    markers: set[str] = set()
    for line in data.decode("utf-8", "replace").splitlines():
        head, _, rest = line.partition(" ")
        if head == "layers":
            for item in rest.split():
                key, _, value = item.partition("=")
                layers.setdefault(key, value == "1")
        elif head:
            markers.add(head)
    return layers, markers
