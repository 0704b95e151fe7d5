"""The `rubric` judge against a real local HTTP server playing the judge model."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import harness.checks.judge  # noqa: F401  (registers `rubric`)
from harness.checks import CheckResult, run_check
from harness.checks.judge import judge_session, parse_score
from harness.errors import InputError
from harness.golden import Case
from tests.checks._helpers import make_case, make_ctx

REPLIES = {
    "good": "The answer names the right city and is concise.\nSCORE: 4",
    "bold": "Fine.\n**SCORE: 5**",
    "garbage": "I think this answer is pretty good overall, maybe a 4 out of 5?",
    "outside": "Excellent.\nSCORE: 9",
}


@asynccontextmanager
async def judge_server(
    seen: list[dict[str, Any]],
    arrivals: list[float] | None = None,
    peers: list[Any] | None = None,
) -> AsyncIterator[str]:
    """An OpenAI-compatible judge: the model name picks the reply; 'broken' answers 500."""

    async def completions(request: web.Request) -> web.Response:
        if arrivals is not None:
            arrivals.append(time.monotonic())
        if peers is not None and request.transport is not None:
            peers.append((request.transport.get_extra_info("peername"), request.transport))
        body = await request.json()
        seen.append(body)
        model = body["model"]
        if model == "broken":
            return web.json_response({"error": {"message": "judge exploded"}}, status=500)
        message = {"role": "assistant", "content": REPLIES[model]}
        return web.json_response(
            {
                "id": "j1",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


def _config(tmp_path: Path, base_url: str, limits: str = "") -> Path:
    path = tmp_path / "harness.yaml"
    path.write_text(
        "endpoints:\n"
        "  judge:\n"
        f"    base_url: {base_url}\n"
        "    model: good\n"
        f"    limits: {{max_retries: 0, timeout_s: 10{limits}}}\n"
    )
    return path


def _case(config: Path, **args: Any) -> Case:
    check = {
        "type": "rubric",
        "rubric": "Full marks if the answer names Paris and nothing else.",
        "endpoint": "judge",
        "config": str(config),
        "pass_score": 4,
        **args,
    }
    return make_case(
        [check],
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        reference={"content": "Paris"},
    )


def _judge(case: Case, answer: str) -> CheckResult:
    return asyncio.run(run_check(case.bound_checks[0], make_ctx(case, answer)))


def test_judge_scores_and_keeps_the_raw_answer(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    async def go() -> list[CheckResult]:
        async with judge_server(seen) as url:
            config = _config(tmp_path, url)
            results = []
            for model in ("good", "garbage", "broken", "outside", "bold"):
                case = _case(config, model=model)
                ctx = make_ctx(case, "Paris.")
                results.append(await run_check(case.bound_checks[0], ctx))
            return results

    good, garbage, broken, outside, bold = asyncio.run(go())

    assert good.passed
    assert not good.error
    assert good.score == pytest.approx(0.75)
    assert good.data == {"judge_raw": REPLIES["good"], "judge_score": 4.0, "judge_model": "good"}
    assert good.detail.startswith("judge scored 4 on 1-5 (pass >= 4): The answer names")

    assert not garbage.passed
    assert garbage.error
    assert garbage.detail.startswith("judge answer unparseable: the last line must be 'SCORE: <n>'")
    assert garbage.data is not None
    assert garbage.data["judge_raw"] == REPLIES["garbage"]
    assert garbage.data["judge_score"] is None

    assert not broken.passed
    assert broken.error
    assert broken.detail.startswith("judge call failed (server 500)")

    assert outside.error
    assert outside.detail == "judge score 9 is outside the scale 1-5"

    assert bold.passed

    body = seen[0]
    assert body["temperature"] == 0
    assert body["stream"] is False
    prompt = body["messages"][1]["content"]
    assert "What is the capital of France?" in prompt
    assert "<answer>\nParis.\n</answer>" in prompt
    assert "<reference_answer>\nParis\n</reference_answer>" in prompt
    assert "Full marks if the answer names Paris" in prompt
    assert "SCORE: <n>" in prompt
    assert len(seen) == 5  # max_retries 0: the 500 was not retried


def test_judge_error_is_not_negated_into_a_pass(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    async def go() -> CheckResult:
        async with judge_server(seen) as url:
            case = _case(_config(tmp_path, url), model="garbage")
            case.bound_checks[0].negate = True
            return await run_check(case.bound_checks[0], make_ctx(case, "Paris."))

    r = asyncio.run(go())
    assert not r.passed
    assert r.error


def test_empty_answer_is_not_sent_to_the_judge(tmp_path: Path) -> None:
    case = _case(_config(tmp_path, "http://127.0.0.1:9/v1"))
    r = _judge(case, "  ")
    assert not r.passed
    assert not r.error
    assert r.detail == "the answer is empty (not sent to the judge)"


def test_unreachable_judge_is_an_error(tmp_path: Path) -> None:
    case = _case(_config(tmp_path, "http://127.0.0.1:9/v1"))
    r = _judge(case, "Paris")
    assert r.error
    assert r.detail.startswith("judge call failed (connection")


def test_judge_arguments_validated_at_load(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9/v1")
    with pytest.raises(
        InputError, match=r"check 'rubric': .*pass_score 7 is outside the scale 1-5"
    ):
        _case(config, pass_score=7)
    with pytest.raises(InputError, match=r"check 'rubric': .*scale 'five'"):
        _case(config, scale="five")
    with pytest.raises(InputError, match=r"check 'rubric': judge endpoint: .*no endpoint 'nope'"):
        _case(config, endpoint="nope")
    with pytest.raises(InputError, match=r"check 'rubric': missing argument 'pass_score'"):
        make_case([{"type": "rubric", "rubric": "r", "endpoint": "sim"}])


def test_judge_on_a_preset_endpoint_resolves_without_a_config() -> None:
    case = make_case([{"type": "rubric", "rubric": "r", "endpoint": "sim", "pass_score": 3}])
    assert case.bound_checks[0].check._endpoint.model == "sim-reference"


@pytest.mark.parametrize(
    ("raw", "score"),
    [
        ("ok\nSCORE: 4", 4.0),
        ("ok\nSCORE: 4\n\n", 4.0),
        ("SCORE:7.5", 7.5),
        ("<think>SCORE: 1</think>\nGood.\nSCORE: 5", 5.0),
        ("SCORE: 4\nbecause it is good", None),
        ("score: 4", None),
        ("", None),
        ("The score is 4", None),
    ],
)
def test_parse_score_requires_the_exact_last_line(raw: str, score: float | None) -> None:
    assert parse_score(raw) == score


def test_judge_request_is_valid_json(tmp_path: Path) -> None:
    case = _case(_config(tmp_path, "http://127.0.0.1:9/v1"))
    check = case.bound_checks[0].check
    body = check.build_body(make_ctx(case, "Paris"), check._endpoint)
    assert json.loads(json.dumps(body))["model"] == "good"


@pytest.mark.parametrize("rps", [None, 4])
def test_judge_calls_keep_to_the_endpoint_rate_limit(tmp_path: Path, rps: int | None) -> None:
    """8 judged answers at once against `rps: 4`: 4 go at once, then one every 0.25 s."""
    arrivals: list[float] = []

    async def go() -> list[CheckResult]:
        async with judge_server([], arrivals) as url:
            limits = ", concurrency: 16" + (f", rps: {rps}" if rps else "")
            case = _case(_config(tmp_path, url, limits))
            calls = [run_check(case.bound_checks[0], make_ctx(case, "Paris.")) for _ in range(8)]
            return await asyncio.gather(*calls)

    results = asyncio.run(go())
    assert all(r.passed for r in results)
    span = arrivals[-1] - arrivals[0]
    if rps is None:
        assert span < 0.5
    else:
        assert span >= 0.9, arrivals


@pytest.mark.parametrize("shared", [False, True])
def test_a_judge_session_reuses_one_connection(tmp_path: Path, shared: bool) -> None:
    """Three judged answers in a row: one connection inside `judge_session`, three outside."""
    peers: list[Any] = []

    async def go() -> list[CheckResult]:
        async with judge_server([], peers=peers) as url:
            case = _case(_config(tmp_path, url))
            session = judge_session() if shared else contextlib.nullcontext()
            async with session:
                return [
                    await run_check(case.bound_checks[0], make_ctx(case, "Paris."))
                    for _ in range(3)
                ]

    assert all(r.passed for r in asyncio.run(go()))
    assert len(peers) == 3
    assert len(set(peers)) == (1 if shared else 3)


def test_a_run_judges_over_one_shared_connection(tmp_path: Path) -> None:
    """`harness run` opens a judge session: 6 judged cases, judge concurrency 1, one connection,
    closed with the run (a leaked client would leave it open on the server's side)."""
    from harness.endpoints import Endpoint, Limits
    from harness.runner import run_suite
    from harness.sim import SimConfig, SimServer
    from harness.store import load_records
    from tests.conftest import make_cases, write_suite

    peers: list[Any] = []

    async def go() -> list[Any]:
        async with judge_server([], peers=peers) as url:
            config = _config(tmp_path, url, ", concurrency: 1")
            cases = make_cases(6)
            for case in cases:
                case["checks"] = [
                    {
                        "type": "rubric",
                        "rubric": "Names the code word.",
                        "endpoint": "judge",
                        "config": str(config),
                        "pass_score": 4,
                    }
                ]
            suite = write_suite(tmp_path / "golden" / "cases.yaml", cases)
            async with SimServer(suite, SimConfig()) as sim:
                ep = Endpoint(
                    name="sim",
                    base_url=sim.base_url,
                    model="sim-reference",
                    limits=Limits(concurrency=3, max_retries=0, timeout_s=10),
                )
                res = await run_suite(suite, ep, out_dir=tmp_path / "run", progress=False)
            await asyncio.sleep(0.2)  # the client's close reaches the server
            assert all(transport.is_closing() for _, transport in peers)
            return load_records(res.path)

    records = asyncio.run(go())
    assert len(records) == 6 and all(r.passed for r in records)
    assert len(peers) == 6 and len(set(peers)) == 1
