"""The command line: parse arguments, call the API, map outcomes to exit codes.

Exit codes (a contract CI scripts rely on): 0 ok, 1 a gate failed, 2 bad input or usage,
130 interrupted. Bad input is one line per problem on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness._version import __version__
from harness.errors import InputError
from harness.golden import CATEGORIES

EXIT_OK, EXIT_GATE, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own exit 2, in our one-line format
        self.print_usage(sys.stderr)
        print(f"harness: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


def _endpoint_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("endpoint")
    g.add_argument("--endpoint", metavar="NAME", help="endpoint name in --config, or a preset")
    g.add_argument(
        "--config", metavar="FILE", help="YAML config with 'endpoints:' (default ./harness.yaml)"
    )
    g.add_argument("--base-url", metavar="URL")
    g.add_argument("--model", metavar="M")
    g.add_argument("--api-key-env", metavar="VAR", help="name of the env var holding the key")


def _report_outputs(p: argparse.ArgumentParser) -> None:
    for flag in ("html", "csv", "md", "json"):
        p.add_argument(f"--{flag}", metavar="FILE")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("validate", help="check golden files; file:line per problem")
    p.add_argument("path", nargs="?", default="golden")

    p = sub.add_parser("run", help="run a golden suite against an endpoint")
    _endpoint_args(p)
    p.add_argument("--suite", default="golden", metavar="PATH")
    p.add_argument("--category", action="append", default=[], choices=CATEGORIES, metavar="C")
    p.add_argument("--filter", metavar="TEXT", help="case id or tag substring")
    p.add_argument("--repeat", type=int, default=1, metavar="N")
    p.add_argument("--concurrency", type=int, metavar="N")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--out", metavar="DIR")
    out.add_argument("--resume", metavar="DIR")
    p.add_argument(
        "--retry-errors", action="store_true", help="with --resume: re-run error records"
    )
    p.add_argument("--shard", metavar="I/N")
    p.add_argument(
        "--min-pass-rate", type=float, metavar="X", help="exit 1 if the pass rate is below X (0..1)"
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--sim-profile",
        default="reference",
        choices=["reference", "degraded", "empty"],
        help="with --endpoint sim and no --base-url: the in-process simulator's profile",
    )

    p = sub.add_parser("rescore", help="re-run checks on stored outputs (no endpoint calls)")
    p.add_argument("run_dir")
    p.add_argument("--suite", metavar="PATH", help="golden path (default: the one in the manifest)")

    p = sub.add_parser("report", help="tables and charts for one run")
    p.add_argument("run_dir")
    _report_outputs(p)

    p = sub.add_parser("diff", help="compare two runs case by case; optional regression gate")
    p.add_argument("base_run")
    p.add_argument("cand_run")
    _report_outputs(p)
    p.add_argument("--fail-on-regression", action="store_true")
    p.add_argument("--alpha", type=float, help="significance level for the gate (default 0.05)")
    p.add_argument("--config", metavar="FILE", help="read gate defaults from its 'gate:' section")
    p.add_argument(
        "--max-drop",
        type=float,
        metavar="X",
        help="fail when the pass rate drops more than X (0..1)",
    )

    p = sub.add_parser("import", help="turn public sets or your data into golden cases")
    p.add_argument("source", help="humaneval | bfcl | jsonl | parquet | hf")
    p.add_argument("path", nargs="?", help="file or dataset path for jsonl / parquet / hf")
    p.add_argument("--category", action="append", default=[], metavar="C")
    p.add_argument(
        "--spec", metavar="SPEC", help="column mapping for jsonl/parquet/hf (see docs/import.md)"
    )
    p.add_argument("--limit", type=int, metavar="N")
    p.add_argument("--out", required=True, metavar="DIR")

    p = sub.add_parser("sim", help="the built-in OpenAI-compatible simulator (not a model)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--profile", default="reference", choices=["reference", "degraded", "empty"])
    p.add_argument("--faults", metavar="SPEC", help='e.g. "429=10%%,5xx=5%%,hang=2%%,cut=2%%"')
    p.add_argument("--latency", type=float, default=0.0, metavar="S")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--suite", default="golden", metavar="PATH")

    p = sub.add_parser("selftest", help="every case's reference must pass its own checks")
    p.add_argument("path", nargs="?", default="golden")
    p.add_argument("--concurrency", type=int, default=16)

    p = sub.add_parser("demo", help="offline demo: golden set vs the simulator, report + diff")
    p.add_argument("--out", default="reports/demo", metavar="DIR")
    p.add_argument("--suite", default="golden", metavar="PATH")
    return parser


def _cmd_validate(a: argparse.Namespace) -> int:
    from harness.golden import load_suite

    suite = load_suite(a.path)
    counts: dict[str, int] = {}
    for c in suite.cases:
        counts[c.category] = counts.get(c.category, 0) + 1
    per = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"{a.path}: {len(suite)} cases OK ({per})")
    return EXIT_OK


def _cmd_run(a: argparse.Namespace) -> int:
    from harness import runner
    from harness.endpoints import resolve_endpoint
    from harness.golden import load_suite
    from harness.store import load_records
    from harness.summary import min_pass_rate_verdict, summary_lines

    progress = False if a.no_progress else None
    if a.resume:
        if a.endpoint or a.base_url or a.model:
            raise InputError(
                "--resume reads the endpoint from the run's manifest; drop the endpoint flags"
            )
        result = asyncio.run(
            runner.resume_run(
                a.resume, retry_errors=a.retry_errors, concurrency=a.concurrency, progress=progress
            )
        )
    else:
        if a.retry_errors:
            raise InputError("--retry-errors goes with --resume DIR")
        endpoint = resolve_endpoint(
            name=a.endpoint,
            config=a.config,
            base_url=a.base_url,
            model=a.model,
            api_key_env=a.api_key_env,
        )
        missing = endpoint.missing_key()
        if missing:
            raise InputError(
                f"endpoint {endpoint.name!r} needs an API key: "
                f"set the environment variable {missing}"
            )
        if a.repeat < 1:
            raise InputError("--repeat must be at least 1")
        if a.concurrency is not None and a.concurrency < 1:
            raise InputError("--concurrency must be at least 1")
        suite = load_suite(a.suite)
        kwargs: dict[str, Any] = dict(
            out_dir=a.out,
            repeats=a.repeat,
            concurrency=a.concurrency,
            categories=a.category,
            filter_text=a.filter,
            shard=a.shard,
            progress=progress,
            argv=sys.argv[1:],
        )
        if endpoint.preset == "sim" and not a.base_url:
            from harness.sim import SimConfig, SimServer

            with SimServer(suite, SimConfig(profile=a.sim_profile)) as sim:
                url = sim.base_url
                endpoint = endpoint.model_copy(
                    update={"base_url": url, "model": f"sim-{a.sim_profile}"}
                )
                print(f"simulator (not a model, profile {a.sim_profile}) at {url}", file=sys.stderr)
                result = asyncio.run(runner.run_suite(suite, endpoint, **kwargs))
        else:
            result = asyncio.run(runner.run_suite(suite, endpoint, **kwargs))
    records = load_records(result.path)
    for line in summary_lines(records):
        print(line)
    print(
        f"run: {result.path}  (results.jsonl, manifest.json; "
        f"`harness report {result.path} --html report.html`)"
    )
    if result.interrupted:
        print(
            f"interrupted: {len(records)}/{result.scheduled} records kept; "
            f"finish with `harness run --resume {result.path}`",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if a.min_pass_rate is not None:
        failed = min_pass_rate_verdict(records, a.min_pass_rate)
        if failed:
            print(f"verdict: fail: {failed}")
            return EXIT_GATE
    return EXIT_OK


def _cmd_rescore(a: argparse.Namespace) -> int:
    from harness.rescore import rescore_run

    changed = rescore_run(a.run_dir, suite_path=a.suite)
    print(
        f"rescored {a.run_dir}: {changed.total} records, {changed.flipped} verdicts changed, "
        f"{changed.missing} cases no longer in the suite (kept as they were)"
    )
    return EXIT_OK


def _cmd_report(a: argparse.Namespace) -> int:
    from harness.report import build_report, terminal_summary, write_report

    rep = build_report(a.run_dir)
    paths = write_report(rep, html=a.html, csv=a.csv, md=a.md, json=a.json)
    print(terminal_summary(rep))
    for p in paths:
        print(f"wrote {p}")
    return EXIT_OK


def _cmd_diff(a: argparse.Namespace) -> int:
    from harness.diff import build_diff, terminal_summary, write_diff
    from harness.endpoints import load_gate

    gate = load_gate(a.config)
    alpha = a.alpha if a.alpha is not None else gate.alpha
    max_drop = a.max_drop if a.max_drop is not None else gate.max_drop
    if not 0 < alpha < 1:
        raise InputError("--alpha must be between 0 and 1")
    if max_drop is not None and not 0 <= max_drop <= 1:
        raise InputError("--max-drop is a fraction between 0 and 1 (0.02 = 2 points)")
    d = build_diff(a.base_run, a.cand_run, alpha=alpha, max_drop=max_drop)
    paths = write_diff(d, html=a.html, csv=a.csv, md=a.md, json=a.json)
    print(terminal_summary(d))
    for p in paths:
        print(f"wrote {p}")
    if a.fail_on_regression and d.verdict == "fail":
        return EXIT_GATE
    return EXIT_OK


def _cmd_import(a: argparse.Namespace) -> int:
    from harness.importers import import_source

    written = import_source(
        a.source, path=a.path, categories=a.category, spec=a.spec, out=Path(a.out), limit=a.limit
    )
    for p, n in written:
        print(f"wrote {p} ({n} cases)")
    return EXIT_OK


def _cmd_sim(a: argparse.Namespace) -> int:
    from harness.golden import load_suite
    from harness.sim import SimConfig, serve

    suite = load_suite(a.suite) if Path(a.suite).exists() else None
    serve(
        suite,
        SimConfig(profile=a.profile, faults=a.faults, latency_s=a.latency, seed=a.seed),
        a.host,
        a.port,
    )
    return EXIT_OK


def _cmd_selftest(a: argparse.Namespace) -> int:
    from harness.selftest import selftest

    result = selftest(a.path, concurrency=a.concurrency)
    for line in result.lines():
        print(line)
    return EXIT_OK if result.ok else EXIT_GATE


def _cmd_demo(a: argparse.Namespace) -> int:
    from harness.demo import run_demo

    return run_demo(out=Path(a.out), suite_path=a.suite)


COMMANDS = {
    "validate": _cmd_validate,
    "run": _cmd_run,
    "rescore": _cmd_rescore,
    "report": _cmd_report,
    "diff": _cmd_diff,
    "import": _cmd_import,
    "sim": _cmd_sim,
    "selftest": _cmd_selftest,
    "demo": _cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
