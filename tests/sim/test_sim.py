"""The simulator over real HTTP, driven by the official `openai` SDK."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from harness.errors import InputError
from harness.golden import Case, Suite, case_from_dict
from harness.prompt import render_messages
from harness.sim import (
    REGRESSION_KINDS,
    SYSTEM_FINGERPRINT,
    SimConfig,
    SimServer,
    degraded_cases,
    parse_faults,
)

SYSTEM = "You are the support assistant of Acme Cloud. Answer briefly and politely, in English."
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}


def _chat(i: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"chat-refund-{i}",
        "category": "chat",
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"How long is the refund window? (variant {i})"},
        ],
        "reference": {
            "content": f"Refunds are accepted within {30 + i} days of purchase. "
            "Open a ticket from the billing page and attach the invoice number. "
            "The money is back on your card within 5 business days."
        },
        "checks": [],
        **extra,
    }


def _extraction(i: int = 0) -> dict[str, Any]:
    return {
        "id": f"extract-invoice-{i}",
        "category": "extraction",
        "messages": [{"role": "user", "content": f"Extract the invoice fields as JSON: #{i} ..."}],
        "params": {"response_format": {"type": "json_object"}},
        "reference": {
            "content": json.dumps(
                {"invoice_number": f"INV-{i}", "total": 120.5 + i, "currency": "EUR", "due": None}
            )
        },
        "checks": [],
    }


def _tool(i: int = 0) -> dict[str, Any]:
    return {
        "id": f"tool-weather-{i}",
        "category": "tool_use",
        "messages": [{"role": "user", "content": f"What's the weather in Paris? ({i})"}],
        "tools": [WEATHER_TOOL],
        "reference": {
            "tool_calls": [
                {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
            ]
        },
        "checks": [],
    }


def _suite(cases: list[dict[str, Any]]) -> Suite:
    return Suite(path="<test>", cases=[case_from_dict(c) for c in cases])


SUITE = _suite(
    [
        _chat(),
        _extraction(),
        _tool(),
        # same messages as chat-refund-0 but thinking on: told apart by the request's parameters
        {
            **_chat(),
            "id": "chat-refund-thinking",
            "params": {"extra_body": {"enable_thinking": True}},
            "reference": {"content": "With thinking: 30 days.", "reasoning": "The policy says 30."},
        },
        {**_chat(7), "params": {"max_tokens": 5}},
    ]
)
CASES = SUITE.by_id()


def _send(client: OpenAI, case: Case, **kw: Any) -> Any:
    params: dict[str, Any] = {
        k: v for k, v in case.params.model_dump(exclude_none=True).items() if k != "stream"
    }
    params.update(kw)
    tools = [t.model_dump(exclude_none=True) for t in case.tools or []]
    if tools:
        params["tools"] = tools
    messages: Any = render_messages(case)
    return client.chat.completions.create(model="sim-reference", messages=messages, **params)


def _stream_text(client: OpenAI, case: Case, **kw: Any) -> tuple[str, str, str | None, Any]:
    """(content, reasoning, finish_reason, usage) assembled from a stream."""
    stream = _send(client, case, stream=True, stream_options={"include_usage": True}, **kw)
    content, reasoning, finish, usage, n = "", "", None, None, 0
    for chunk in stream:
        n += 1
        assert chunk.system_fingerprint == SYSTEM_FINGERPRINT
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            content += choice.delta.content or ""
            reasoning += getattr(choice.delta, "reasoning_content", None) or ""
            finish = choice.finish_reason or finish
    assert n >= 3
    return content, reasoning, finish, usage


@pytest.fixture(scope="module")
def ref_server() -> Iterator[SimServer]:
    with SimServer(SUITE) as server:
        yield server


@pytest.fixture
def client(ref_server: SimServer) -> Iterator[OpenAI]:
    with OpenAI(base_url=ref_server.base_url, api_key="unused", max_retries=0, timeout=10) as c:
        yield c


@pytest.mark.parametrize("case_id", ["chat-refund-0", "extract-invoice-0"])
def test_streamed_and_plain_answers_equal_the_reference(client: OpenAI, case_id: str) -> None:
    case = CASES[case_id]
    assert case.reference is not None
    plain = _send(client, case)
    assert plain.model == "sim-reference"
    assert plain.system_fingerprint == SYSTEM_FINGERPRINT
    assert plain.choices[0].message.content == case.reference.content
    assert plain.choices[0].finish_reason == "stop"
    content, reasoning, finish, usage = _stream_text(client, case)
    assert (content, reasoning, finish) == (case.reference.content, "", "stop")
    assert usage is not None
    assert usage.completion_tokens == math.ceil(len(case.reference.content or "") / 4)


def test_tool_calls_assembled_by_the_sdk_equal_the_reference(client: OpenAI) -> None:
    case = CASES["tool-weather-0"]
    expected = [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]
    plain = _send(client, case)
    assert plain.choices[0].finish_reason == "tool_calls"
    calls = plain.choices[0].message.tool_calls or []
    assert [c.id for c in calls] == ["call_0"]
    assert [
        {"name": c.function.name, "arguments": json.loads(c.function.arguments)} for c in calls
    ] == expected
    messages: Any = render_messages(case)
    tools: Any = [WEATHER_TOOL]
    with client.chat.completions.stream(
        model="sim-reference", messages=messages, tools=tools
    ) as stream:
        final = stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls or []
    assert final.choices[0].finish_reason == "tool_calls"
    assert [
        {"name": c.function.name, "arguments": json.loads(c.function.arguments)} for c in streamed
    ] == expected
    assert streamed[0].id == "call_0"


def test_usage_is_plausible_and_a_repeated_system_prompt_is_cached(client: OpenAI) -> None:
    case = _suite([_chat(99)]).cases[0]  # unknown to the server: a fresh system prompt per server
    with SimServer(SUITE) as fresh:
        c = OpenAI(base_url=fresh.base_url, api_key="unused", max_retries=0)
        first = _send(c, case).usage
        second = _send(c, case).usage
        c.close()
    assert first is not None
    assert second is not None
    prompt_chars = sum(len(str(m["content"])) for m in render_messages(case))
    assert abs(first.prompt_tokens - prompt_chars / 4) <= len(case.messages)
    assert first.total_tokens == first.prompt_tokens + first.completion_tokens
    assert first.prompt_tokens_details is not None
    assert second.prompt_tokens_details is not None
    assert first.prompt_tokens_details.cached_tokens == 0
    cached = second.prompt_tokens_details.cached_tokens or 0
    assert 0 < cached <= math.ceil(len(SYSTEM) / 4)
    assert first.completion_tokens_details is not None
    assert first.completion_tokens_details.reasoning_tokens == 0


def test_max_tokens_truncates_and_finishes_with_length(client: OpenAI) -> None:
    case = CASES["chat-refund-0"]
    assert case.reference is not None
    assert case.reference.content is not None
    plain = _send(client, case, max_tokens=3)
    assert plain.choices[0].finish_reason == "length"
    assert plain.choices[0].message.content == case.reference.content[:12]
    assert plain.usage is not None
    assert plain.usage.completion_tokens == 3
    content, _, finish, _ = _stream_text(client, case, max_tokens=3)
    assert (content, finish) == (case.reference.content[:12], "length")
    # the case's own limit (params.max_tokens: 5) is what the golden set's truncation cases use
    limited = CASES["chat-refund-7"]
    content, _, finish, _ = _stream_text(client, limited)
    assert (len(content), finish) == (20, "length")
    assert _send(client, case, max_tokens=4096).choices[0].finish_reason == "stop"


def test_enable_thinking_gives_reasoning(client: OpenAI) -> None:
    plain_case = _suite([_extraction()]).cases[0]
    msg = _send(client, plain_case, extra_body={"enable_thinking": True}).choices[0].message
    assert "simulat" in str(getattr(msg, "reasoning_content", "")).lower()
    assert msg.content == CASES["extract-invoice-0"].reference.content  # type: ignore[union-attr]
    _, reasoning, _, usage = _stream_text(client, plain_case, extra_body={"enable_thinking": True})
    assert reasoning
    assert usage.completion_tokens_details.reasoning_tokens == math.ceil(len(reasoning) / 4)
    # two cases with identical messages: the thinking one is chosen by enable_thinking
    thinking = CASES["chat-refund-thinking"]
    content, reasoning, _, _ = _stream_text(client, thinking, extra_body={"enable_thinking": True})
    assert (content, reasoning) == ("With thinking: 30 days.", "The policy says 30.")
    other = _send(client, CASES["chat-refund-0"]).choices[0].message.content
    assert "thinking" not in (other or "")


def test_cases_differing_only_in_a_tool_or_output_schema_get_their_own_answers(
    tmp_path: Path,
) -> None:
    """Same messages, same tool names: the tool definition or response_format tells them apart.

    A golden set that tests a schema change (a new enum value, a required field) holds such
    pairs; answering both with one reference would fail a case the model never saw.
    """
    import copy

    from harness.endpoints import Endpoint, Limits
    from harness.runner import run_suite
    from harness.store import load_records

    kelvin: dict[str, Any] = copy.deepcopy(WEATHER_TOOL)
    kelvin["function"]["parameters"]["properties"]["unit"]["enum"] = ["kelvin"]
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]

    def tool_case(cid: str, tool: dict[str, Any], unit: str) -> dict[str, Any]:
        call = {"name": "get_weather", "arguments": {"city": "Paris", "unit": unit}}
        return {
            "id": cid,
            "category": "tool_use",
            "messages": ask,
            "tools": [tool],
            "reference": {"tool_calls": [call]},
            "checks": [
                {
                    "type": "tool_call",
                    "calls": [
                        {"name": "get_weather", "arguments": {"city": ["Paris"], "unit": [unit]}}
                    ],
                }
            ],
        }

    def schema_case(cid: str, field: str) -> dict[str, Any]:
        schema = {"type": "object", "properties": {field: {"type": "string"}}, "required": [field]}
        return {
            "id": cid,
            "category": "extraction",
            "messages": [{"role": "user", "content": "Extract the order reference: AB-12."}],
            "params": {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "order", "schema": schema},
                }
            },
            "reference": {"content": json.dumps({field: "AB-12"})},
            "checks": [{"type": "json_schema", "schema": schema}],
        }

    suite = _suite(
        [
            tool_case("weather-celsius", WEATHER_TOOL, "celsius"),
            tool_case("weather-kelvin", kelvin, "kelvin"),
            schema_case("order-ref", "ref"),
            schema_case("order-reference", "reference"),
        ]
    )
    with SimServer(suite) as sim:
        endpoint = Endpoint(
            name="sim", base_url=sim.base_url, model="sim-reference", limits=Limits(concurrency=2)
        )
        for stream in (True, False):
            ep = endpoint.model_copy(update={"stream": stream})
            out = tmp_path / f"run-{stream}"
            asyncio.run(run_suite(suite, ep, out_dir=out, progress=False, repeats=2))
            records = load_records(out)
            assert len(records) == 8
            failed = [(r.case_id, r.output.model_dump()) for r in records if not r.passed]
            assert failed == []


def test_unknown_request_gets_a_generic_simulator_answer(client: OpenAI) -> None:
    resp = client.chat.completions.create(
        model="sim-reference", messages=[{"role": "user", "content": "Who are you really?"}]
    )
    text = resp.choices[0].message.content or ""
    assert "simulator" in text
    assert "not a model" in text
    assert resp.choices[0].finish_reason == "stop"


def test_last_user_message_finds_the_case_when_messages_were_altered(client: OpenAI) -> None:
    case = CASES["chat-refund-0"]
    messages: Any = [{"role": "system", "content": "A proxy rewrote this."}]
    messages += render_messages(case)[1:]
    resp = client.chat.completions.create(model="sim-reference", messages=messages)
    assert resp.choices[0].message.content == case.reference.content  # type: ignore[union-attr]


def test_models_and_health_label_the_simulator(ref_server: SimServer, client: OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["sim-reference"]
    health = httpx2.get(ref_server.base_url.removesuffix("/v1") + "/health").json()
    assert health == {"status": "ok", "simulator": True, "model": "sim-reference", "cases": 5}


def test_degraded_profile_perturbs_exactly_the_named_cases() -> None:
    suite = _suite([f(i) for i in range(6) for f in (_chat, _extraction, _tool)])
    kinds = degraded_cases(suite, seed=0, fraction=0.25)
    regressions = {k: v for k, v in kinds.items() if v in REGRESSION_KINDS}
    assert len(regressions) == round(0.25 * 18)
    assert set(kinds.values()) == {"dropped_field", "wrong_argument", "wrong_fact", "slow"}
    assert degraded_cases(suite, seed=0, fraction=0.25) == kinds
    assert degraded_cases(suite, seed=1, fraction=0.25) != kinds
    config = SimConfig(profile="degraded", seed=0, latency_s=0.05)
    with (
        SimServer(suite, config) as server,
        OpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as c,
    ):
        assert server.injected == kinds
        for case in suite:
            ref = case.reference
            assert ref is not None
            t0 = time.perf_counter()
            msg = _send(c, case).choices[0]
            elapsed = time.perf_counter() - t0
            kind = kinds.get(case.id)
            if kind == "slow":
                assert elapsed >= 0.15
            if kind not in REGRESSION_KINDS:
                assert msg.message.content == ref.content, case.id
                assert msg.finish_reason == ("tool_calls" if ref.tool_calls else "stop")
                if ref.tool_calls:
                    args = json.loads(msg.message.tool_calls[0].function.arguments)
                    assert args == ref.tool_calls[0].arguments
            elif kind == "dropped_field":
                got = json.loads(msg.message.content or "")
                want = json.loads(ref.content or "")
                assert set(got) < set(want)
                assert len(want) - len(got) == 1
                assert got["due"] is None  # a null field is never the one dropped
            elif kind == "wrong_argument":
                args = json.loads(msg.message.tool_calls[0].function.arguments)
                want_args = ref.tool_calls[0].arguments  # type: ignore[index]
                assert set(args) == set(want_args)
                assert sum(args[k] != want_args[k] for k in args) == 1
            elif kind == "truncation":
                assert msg.finish_reason == "length"
            else:
                assert kind == "wrong_fact"
                assert msg.message.content != ref.content
                assert "days" in (msg.message.content or "")  # plausible, not gibberish


def test_dropped_field_prefers_the_fields_a_json_match_check_expects() -> None:
    # Built without binding the checks: the perturbation reads the raw check specs only.
    raw = {**_extraction(1), "checks": [{"type": "json_match", "expected": {"currency": "EUR"}}]}
    case = Case.model_validate(raw)
    suite = Suite(path="<test>", cases=[case])
    assert degraded_cases(suite, fraction=1.0) == {case.id: "dropped_field"}
    with (
        SimServer(suite, SimConfig(profile="degraded")) as server,
        OpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as c,
    ):
        got = json.loads(_send(c, case).choices[0].message.content or "")
    assert got == {"invoice_number": "INV-1", "total": 121.5, "due": None}


def test_code_is_truncated() -> None:
    code = 'def add(a, b):\n    """Sum of a and b."""\n    return a + b\n'
    answer = f"```python\n{code}```"
    raw = {
        "id": "code-add",
        "category": "coding",
        "checks": [],
        "messages": [{"role": "user", "content": "Write add(a, b)."}],
        "reference": {"content": answer},
    }
    suite = _suite([raw])
    assert degraded_cases(suite, fraction=1.0) == {"code-add": "truncation"}
    with (
        SimServer(suite, SimConfig(profile="degraded")) as server,
        OpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as c,
    ):
        content, _, finish, _ = _stream_text(c, suite.cases[0])
    assert finish == "length"
    assert 0 < len(content) < len(answer)
    assert answer.startswith(content)


def test_empty_profile_answers_nothing_with_stop() -> None:
    with (
        SimServer(SUITE, SimConfig(profile="empty")) as server,
        OpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as c,
    ):
        for case in SUITE:
            choice = _send(c, case).choices[0]
            assert (choice.message.content, choice.finish_reason) == ("", "stop")
            assert not choice.message.tool_calls
        content, _, finish, _ = _stream_text(c, CASES["tool-weather-0"])
        assert (content, finish) == ("", "stop")
        assert [m.id for m in c.models.list()] == ["sim-empty"]


async def _one(client: AsyncOpenAI, case: Case, sem: asyncio.Semaphore) -> str:
    """What the SDK saw for one streamed request, as a label."""
    messages: Any = render_messages(case)
    async with sem:
        try:
            stream = await client.chat.completions.create(
                model="sim-reference",
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            )
            finish = None
            async for chunk in stream:
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
            return "ok" if finish == "stop" else f"no-finish:{finish}"
        except openai.RateLimitError as exc:
            h = exc.response.headers
            return f"429 retry-after={h['retry-after']} ms={h['retry-after-ms']}"
        except openai.InternalServerError as exc:
            return f"5xx {exc.status_code}"
        except openai.APITimeoutError:
            return "hang"
        except (httpx2.RemoteProtocolError, openai.APIConnectionError):
            return "cut"
        except json.JSONDecodeError:
            return "malformed"
        except openai.APIError as exc:
            return f"stream_error {exc.message}"


@pytest.mark.parametrize(
    ("spec", "n", "timeout"),
    [
        # no hangs: a generous timeout, so a loaded machine cannot turn a slow answer into one
        ("429=10%,5xx=5%,cut=2%,malformed=2%,stream_error=2%", 400, 30.0),
        # hangs end at the client's timeout, all at once (concurrency n)
        ("hang=10%,429=5%", 100, 2.0),
    ],
)
def test_faults_are_injected_at_their_rates_and_counted(spec: str, n: int, timeout: float) -> None:
    rates = parse_faults(spec)
    case = CASES["chat-refund-0"]
    config = SimConfig(faults=spec, seed=11, retry_after_s=0.5)

    async def run(url: str) -> Counter[str]:
        async with AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=timeout) as c:
            sem = asyncio.Semaphore(n if "hang" in spec else 64)
            return Counter(await asyncio.gather(*(_one(c, case, sem) for _ in range(n))))

    with SimServer(SUITE, config) as server:
        labels = asyncio.run(run(server.base_url))
        stats = server.stats
        deadline = time.monotonic() + 5  # the server sees the timed-out clients hang up
        while stats.hangs_cancelled < stats.faults["hang"] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stats.requests == n
        assert stats.hangs_cancelled == stats.faults["hang"]
    assert set(labels) <= {
        "ok",
        "429 retry-after=0.5 ms=500",
        "5xx 500",
        "5xx 503",
        "hang",
        "cut",
        "malformed",
        "stream_error Internal error while generating (harness simulator)",
    }, labels
    seen = Counter(label.split(" ")[0] for label in labels.elements())
    assert seen["ok"] == n - sum(stats.faults.values()) == stats.answered
    for kind, rate in rates.items():
        assert seen[kind] == stats.faults[kind], (kind, seen)
        assert abs(stats.faults[kind] - rate * n) <= 3 * math.sqrt(n * rate) + 1, (kind, seen)


def test_non_streaming_faults() -> None:
    config = SimConfig(faults="cut=50%,malformed=50%", seed=1)
    with (
        SimServer(SUITE, config) as server,
        OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=2) as c,
    ):
        errors: Counter[str] = Counter()
        for _ in range(20):
            try:
                _send(c, CASES["chat-refund-0"])
            except openai.APIConnectionError:
                errors["cut"] += 1
            except json.JSONDecodeError:
                errors["malformed"] += 1
        assert dict(errors) == dict(server.stats.faults)


def test_latency_and_slow_cases() -> None:
    config = SimConfig(latency_s=0.15, token_latency_s=0.002)
    case = CASES["chat-refund-0"]
    with (
        SimServer(SUITE, config) as server,
        OpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as c,
    ):
        t0 = time.perf_counter()
        stream = _send(c, case, stream=True)
        first = None
        for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - t0
        total = time.perf_counter() - t0
    assert first is not None
    assert 0.15 <= first < 1.5
    assert total >= 0.15 + 0.002 * (math.ceil(len(case.reference.content or "") / 4) - 4)  # type: ignore[union-attr]


def test_require_key() -> None:
    with SimServer(SUITE, SimConfig(require_key="s3cret")) as server:
        with (
            OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0) as bad,
            pytest.raises(openai.AuthenticationError),
        ):
            _send(bad, CASES["chat-refund-0"])
        with OpenAI(base_url=server.base_url, api_key="s3cret", max_retries=0) as good:
            assert _send(good, CASES["chat-refund-0"]).choices[0].finish_reason == "stop"
        assert server.stats.unauthorized == 1


def test_fault_specs() -> None:
    want = {"429": 0.1, "5xx": 0.05}
    assert parse_faults("429=10%,5xx=5%") == want
    assert parse_faults("429 10%, 5xx 5%") == want
    assert parse_faults("429: 0.1, 500=0.05") == want
    assert parse_faults("cut stream 2%, hang 2%") == {"cut": 0.02, "hang": 0.02}
    assert parse_faults(None) == parse_faults("") == {}
    for bad, needle in [
        ("429=10", "percentage"),
        ("teapot=5%", "unknown fault"),
        ("429", "cannot read"),
        ("429=60%,5xx=60%", "add up"),
        ("429=1%,rate_limit=2%", "twice"),
    ]:
        with pytest.raises(InputError, match=needle):
            parse_faults(bad)
    with pytest.raises(InputError, match="unknown fault"):
        SimServer(SUITE, SimConfig(faults="boom=1%"))


def test_runs_in_the_callers_loop_and_stops_cleanly() -> None:
    async def main() -> None:
        config = SimConfig(faults="hang=100%", hang_s=3600)
        async with (
            SimServer(SUITE, config) as server,
            AsyncOpenAI(
                base_url=server.base_url, api_key="unused", max_retries=0, timeout=0.2
            ) as c,
        ):
            with pytest.raises(openai.APITimeoutError):
                await c.chat.completions.create(
                    model="sim-reference", messages=[{"role": "user", "content": "hi"}]
                )

    t0 = time.perf_counter()
    asyncio.run(main())
    assert time.perf_counter() - t0 < 2.0


def test_shutdown_with_requests_in_flight_leaves_no_warnings() -> None:
    script = """
import asyncio, threading, httpx2
from harness.sim import SimServer, SimConfig
server = SimServer(None, SimConfig(faults="hang=100%"))
url = server.start_background()
def call():
    body = {"messages": [{"role": "user", "content": "x"}]}
    try: httpx2.post(url + "/chat/completions", json=body, timeout=30)
    except Exception: pass
threads = [threading.Thread(target=call) for _ in range(8)]
for t in threads: t.start()
import time
deadline = time.monotonic() + 10
while server.stats.requests < 8 and time.monotonic() < deadline: time.sleep(0.01)
time.sleep(0.05)
t0 = time.perf_counter()
server.stop_background()
for t in threads: t.join()
assert server.stats.hangs_cancelled == 8, server.stats
print("stopped in", round(time.perf_counter() - t0, 2))
"""
    proc = subprocess.run(
        [sys.executable, "-W", "default", "-c", script], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert float(proc.stdout.split()[-1]) < 2.5


def test_a_port_that_cannot_be_used_is_an_input_error() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match=rf"cannot listen on 127\.0\.0\.1:{port}: .*in use"):
            SimServer(SUITE, port=port).start_background()
    with pytest.raises(InputError, match="port must be between 0 and 65535, got 70000"):
        SimServer(SUITE, port=70000)


def test_serve_prints_its_url_and_stops_on_sigterm() -> None:
    script = (
        "from harness.sim import serve, SimConfig\n"
        "serve(None, SimConfig(profile='degraded'), '127.0.0.1', 0)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-W", "default", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "simulator (not a model)" in first
        url = first.split()[-1]
        health = httpx2.get(url.removesuffix("/v1") + "/health", timeout=5).json()
        assert health["model"] == "sim-degraded"
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert err == ""
    assert "stopped" in out
