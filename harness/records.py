"""The result record and the run manifest: the on-disk contract of a run directory.

These models are the edge between the harness and everyone who reads its output (reports,
diffs, dashboards, users' pandas notebooks). Fields follow ../shared/DESIGN.md exactly; adding a
field is fine, renaming one is a migration (bump `FORMAT_VERSION`). Unknown is not zero: every
telemetry field is nullable and null means "the server did not say".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 1

ErrorType = Literal[
    "rate_limit",
    "timeout",
    "server",
    "auth",
    "quota",
    "bad_request",
    "content_filter",
    "connection",
    "protocol",
]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "unknown"]
Status = Literal["ok", "error"]
RunStatus = Literal["running", "complete", "interrupted"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ErrorInfo(_Model):
    type: ErrorType
    status_code: int | None = None
    code: str | None = None
    message: str = ""


class ToolCall(_Model):
    id: str | None = None
    name: str
    arguments: str = ""
    """The raw argument string exactly as the server sent it."""
    parsed: Any = None
    """`arguments` decoded as JSON, or null when it is not valid JSON."""


class Output(_Model):
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)


class Usage(_Model):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    total_tokens: int | None = None


class Served(_Model):
    """What the server said about itself: which model answered, under which response id.

    The requested model is an alias that a provider resolves (OpenAI's `gpt-4o` to a dated
    snapshot), a gateway may route, and a deployment may change mid-run; vLLM's
    system_fingerprint names its version and parallelism. Null where the server did not say.
    """

    model: str | None = None
    id: str | None = None
    """The response id (`chatcmpl-...`), what a provider's support asks for."""
    system_fingerprint: str | None = None


class CheckOutcome(_Model):
    name: str
    passed: bool
    score: float
    detail: str = ""
    weight: float = 1.0
    error: bool = False
    """True when the check itself could not reach a verdict (e.g. an unparseable judge answer)."""
    data: dict[str, Any] | None = None
    """Check-specific extras worth keeping (a judge's raw answer, a failure label)."""


class Record(_Model):
    case_id: str
    case_hash: str
    category: str
    repeat: int = 0
    endpoint: str
    model: str
    status: Status
    error: ErrorInfo | None = None
    output: Output = Field(default_factory=Output)
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    attempts: int = 1
    checks: list[CheckOutcome] = Field(default_factory=list)
    score: float | None = None
    passed: bool | None = None
    started_at: str
    tags: list[str] = Field(default_factory=list)
    served: Served | None = None
    """None when no response arrived, or it said nothing about the model, id or fingerprint."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.case_id, self.repeat)


class SuiteInfo(_Model):
    path: str
    hash: str
    cases: int


class Manifest(_Model):
    format_version: int = FORMAT_VERSION
    run_id: str
    harness_version: str
    suite: SuiteInfo
    endpoint: dict[str, Any]
    repeats: int = 1
    started_at: str
    finished_at: str | None = None
    status: RunStatus = "running"
    argv: list[str] = Field(default_factory=list)
    selection: dict[str, Any] = Field(default_factory=dict)
    """How the cases were chosen (categories, filter, shard), so `--resume` picks the same ones."""
    scheduled: int = 0
    """How many case x repeat records this run is expected to hold."""
    rescored_at: str | None = None
