"""`rubric`: an LLM judge, through any endpoint the harness can call.

The judge sees the conversation exactly as it was sent (context chunks included), the
reference answer when the case has one, the answer (and its tool calls), and the rubric, and
must end with one line ``SCORE: <n>`` on the case's scale. Anything else is an error verdict,
never a pass: the raw answer is kept in ``data["judge_raw"]`` so a person can see what the
judge said, and the parsed score in ``data["judge_score"]``.

The request is built here (model, messages, ``temperature: 0``, no streaming, the endpoint's
own params underneath) and sent with the harness's client and retry policy, so rate limits and
transient failures of the judge are retried like the run's own calls; an answer that still
fails is an error verdict. Calls to one judge endpoint are bounded by its
``limits.concurrency``, ``rpm`` and ``rps``. Inside `judge_session` (the runner, rescore and
the pytest plugin open one) the judge calls of one endpoint share a client, so its connections
are reused rather than opened (with a TLS handshake) once per judged answer.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import jinja2
import orjson
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.checks._base import CHECK_CONFIG, BuildEnv, CheckContext, CheckResult, register
from harness.checks._text_norm import answer_text, clip
from harness.endpoints import Endpoint, resolve_endpoint
from harness.errors import InputError
from harness.prompt import render_messages
from harness.ratelimit import lane

if TYPE_CHECKING:
    from harness.client import Client

_ENV = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, trim_blocks=True)

SYSTEM = (
    "You are a strict, impartial grader. You grade one answer against a rubric. Do not answer "
    "the question yourself. Follow the required output format exactly."
)

PROMPT = _ENV.from_string(
    """Grade the ANSWER to the CONVERSATION below against the RUBRIC.

<conversation>
{% for m in messages %}
[{{ m.role }}] {{ m.content }}
{% endfor %}
</conversation>

{% if reference %}
<reference_answer>
{{ reference }}
</reference_answer>

{% endif %}
<answer>
{{ answer }}
</answer>

<rubric>
{{ rubric }}
</rubric>

Explain your grade in a few sentences. Then end your reply with exactly one line of the form
SCORE: <n>
where <n> is a number from {{ low }} (worst) to {{ high }} (best). Nothing may follow that line."""
)

_SCORE = re.compile(r"^\**\s*SCORE\s*:\s*\**\s*(-?\d+(?:\.\d+)?)\s*\**\s*$")
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL)
_SCALE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


_SHARED: ContextVar[dict[str, Client] | None] = ContextVar("harness_judge_clients", default=None)


@contextlib.asynccontextmanager
async def judge_session() -> AsyncIterator[None]:
    """Judge calls made inside (by tasks started inside) share one client per judge endpoint."""
    clients: dict[str, Client] = {}
    token = _SHARED.set(clients)
    try:
        yield
    finally:
        _SHARED.reset(token)
        for client in clients.values():
            await client.aclose()


@contextlib.asynccontextmanager
async def _client(endpoint: Endpoint) -> AsyncIterator[Client]:
    from harness.client import Client  # the client imports the SDK: only load it when judging

    shared = _SHARED.get()
    if shared is None:
        async with Client(endpoint) as client:
            yield client
        return
    key = endpoint.model_dump_json(include={"base_url", "api_key_env", "headers", "transport"})
    key += f"|{endpoint.limits.timeout_s}"
    found = shared.get(key)
    if found is None:
        found = shared[key] = Client(endpoint)
    yield found


def parse_score(raw: str) -> float | None:
    """The score on the judge's last non-empty line, or None when it is not ``SCORE: <n>``."""
    text = _THINK.sub("", raw).strip()
    if not text:
        return None
    m = _SCORE.match(text.splitlines()[-1].strip())
    return float(m.group(1)) if m else None


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            else:
                parts.append(f"[{part.get('type', 'part') if isinstance(part, dict) else 'part'}]")
        return "\n".join(parts)
    return "" if value is None else orjson.dumps(value).decode()


@register("rubric")
@dataclass(config=CHECK_CONFIG)
class Rubric:
    """An LLM judge scores the answer against `rubric` on `scale`; passes at `pass_score`.

    `endpoint` names an endpoint of the harness config (`config`, default ./harness.yaml) or a
    preset; `model` overrides its model. The verdict's score is the judge's score mapped to 0..1.
    """

    rubric: Annotated[str, Field(min_length=1)]
    endpoint: Annotated[str, Field(min_length=1)]
    pass_score: float
    scale: str = "1-5"
    config: str | None = None
    model: str | None = None
    include_reference: bool = True

    def __post_init__(self) -> None:
        m = _SCALE.match(self.scale)
        if m is None:
            raise ValueError(f"scale {self.scale!r} must look like '1-5' or '0-10'")
        self._low, self._high = int(m.group(1)), int(m.group(2))
        if self._low >= self._high:
            raise ValueError(f"scale {self.scale!r}: the low end must be below the high end")
        if not self._low <= self.pass_score <= self._high:
            raise ValueError(f"pass_score {self.pass_score:g} is outside the scale {self.scale}")
        self._endpoint: Endpoint | None = None

    def bind(self, env: BuildEnv) -> None:
        config = self.config
        if config is not None and not Path(config).is_file():
            for base in (env.case_file.parent, env.golden_root):
                if (base / config).is_file():
                    config = str(base / config)
                    break
        try:
            self._endpoint = resolve_endpoint(name=self.endpoint, config=config, model=self.model)
        except InputError as exc:
            raise ValueError(f"judge endpoint: {exc}") from None

    def build_body(self, ctx: CheckContext, endpoint: Endpoint) -> dict[str, Any]:
        answer = answer_text(ctx)
        if ctx.output.tool_calls:
            calls = [
                {"name": c.name, "arguments": c.parsed if c.parsed is not None else c.arguments}
                for c in ctx.output.tool_calls
            ]
            answer += "\n[tool calls] " + orjson.dumps(calls).decode()
        reference = None
        ref = ctx.case.reference
        if self.include_reference and ref is not None:
            reference = ref.content
            if ref.tool_calls:
                reference = (
                    (reference or "")
                    + "\n[tool calls] "
                    + orjson.dumps([c.model_dump() for c in ref.tool_calls]).decode()
                )
        messages = [
            {"role": m["role"], "content": _content(m.get("content"))}
            for m in render_messages(ctx.case)
        ]
        prompt = PROMPT.render(
            messages=messages,
            reference=reference,
            answer=answer,
            rubric=self.rubric.strip(),
            low=self._low,
            high=self._high,
        )
        params = {k: v for k, v in endpoint.params.items() if v is not None}
        params.pop("stream_options", None)
        return {
            **params,
            "model": endpoint.model,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": prompt},
            ],
            "temperature": 0,
            "stream": False,
        }

    async def __call__(self, ctx: CheckContext) -> CheckResult:
        from harness.retry import complete_with_retries

        if not answer_text(ctx).strip() and not ctx.output.tool_calls:
            return CheckResult(passed=False, detail="the answer is empty (not sent to the judge)")
        endpoint = self._endpoint
        if endpoint is None:
            try:
                endpoint = resolve_endpoint(
                    name=self.endpoint, config=self.config, model=self.model
                )
            except InputError as exc:
                return CheckResult(passed=False, error=True, detail=f"judge endpoint: {exc}")
        body = self.build_body(ctx, endpoint)
        data: dict[str, Any] = {
            "judge_raw": None,
            "judge_score": None,
            "judge_model": endpoint.model,
        }
        try:
            bounds = lane(endpoint)
            async with bounds.slots, _client(endpoint) as client:
                attempt, _ = await complete_with_retries(
                    client, body, endpoint.limits, before_attempt=bounds.rates.acquire
                )
        except InputError as exc:
            return CheckResult(passed=False, error=True, detail=f"judge: {exc}", data=data)
        if attempt.error is not None:
            err = attempt.error
            status = f" {err.status_code}" if err.status_code else ""
            return CheckResult(
                passed=False,
                error=True,
                detail=f"judge call failed ({err.type}{status}): {clip(err.message, 160)}",
                data=data,
            )
        raw = attempt.output.content or ""
        data["judge_raw"] = raw
        score = parse_score(raw)
        if score is None:
            last = raw.strip().splitlines()[-1] if raw.strip() else ""
            return CheckResult(
                passed=False,
                error=True,
                detail=f"judge answer unparseable: the last line must be 'SCORE: <n>', got "
                f"{clip(last, 80)!r}",
                data=data,
            )
        if not self._low <= score <= self._high:
            return CheckResult(
                passed=False,
                error=True,
                detail=f"judge score {score:g} is outside the scale {self.scale}",
                data=data,
            )
        data["judge_score"] = score
        passed = score >= self.pass_score
        lines = [ln for ln in _THINK.sub("", raw).strip().splitlines()[:-1] if ln.strip()]
        why = f": {clip(' '.join(lines), 200)}" if lines else ""
        return CheckResult(
            passed=passed,
            score=(score - self._low) / (self._high - self._low),
            detail=f"judge scored {score:g} on {self.scale} (pass >= {self.pass_score:g}){why}",
            data=data,
        )
