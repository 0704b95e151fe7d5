"""Endpoints: where a suite is sent, with which defaults and limits.

An endpoint comes from a YAML config (``endpoints: {name: {...}}``) or ad hoc from command-line
flags. Presets fill the base URL and the name of the key's environment variable for the servers
teams actually use. The key itself is only ever read from the environment at call time
(`api_key()`); it is not a field, so it cannot be dumped into a manifest, a log or a report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness import _yamlpos
from harness.client import param_problems
from harness.errors import InputError, Problem, describe_validation_error


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(default=8, ge=1)
    rpm: float | None = Field(default=None, gt=0)
    """Requests per minute (DashScope enforces RPM and RPS at once)."""
    rps: float | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=120.0, gt=0)
    """Per attempt: connect + the whole streamed answer."""
    max_retries: int = Field(default=4, ge=0)
    """Retries after the first attempt; `attempts` in a record is 1 + retries."""
    backoff_initial_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    fail_fast_after: int = Field(default=10, ge=0)
    """Stop a run after this many records in a row fail with `auth`, `quota`, `connection` (after
    its retries) or a 404 (an unknown model): every other case would fail the same way. 0: never
    stop."""


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    currency: str = "USD"

    def cost(
        self, prompt: int | None, completion: int | None, cached: int | None = None
    ) -> float | None:
        """Estimated cost of one call; None when the token counts are unknown."""
        if prompt is None or completion is None:
            return None
        cached_n = cached or 0
        cached_rate = (
            self.cached_input_per_mtok
            if self.cached_input_per_mtok is not None
            else self.input_per_mtok
        )
        return (
            (prompt - cached_n) * self.input_per_mtok
            + cached_n * cached_rate
            + completion * self.output_per_mtok
        ) / 1e6


PRESETS: dict[str, dict[str, Any]] = {
    "dashscope-intl": {
        "base_url": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "api_key_env": "DASHSCOPE_API_KEY",
        "model": "qwen3.5-plus",
    },
    "dashscope-cn": {
        "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "api_key_env": "DASHSCOPE_API_KEY",
        "model": "qwen3.5-plus",
    },
    "openai": {"base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY"},
    "vllm": {"base_url": "http://127.0.0.1:8000/v1", "api_key_env": None},
    "sglang": {"base_url": "http://127.0.0.1:30000/v1", "api_key_env": None},
    "ollama": {"base_url": "http://127.0.0.1:11434/v1", "api_key_env": None},
    "llamacpp": {"base_url": "http://127.0.0.1:8080/v1", "api_key_env": None},
    "transformers": {"base_url": "http://127.0.0.1:8000/v1", "api_key_env": None},
    "sim": {"base_url": "http://127.0.0.1:8765/v1", "api_key_env": None, "model": "sim-reference"},
}

#: For a 401 from DashScope: keys are issued per region, so the other region is the usual fix.
DASHSCOPE_OTHER_REGION = {
    "dashscope-intl": PRESETS["dashscope-cn"]["base_url"],
    "dashscope-cn": PRESETS["dashscope-intl"]["base_url"],
}


class Endpoint(BaseModel):
    """A target: an OpenAI-compatible base URL and model, with defaults and limits."""

    model_config = ConfigDict(extra="forbid")

    name: str
    base_url: str
    model: str
    preset: str | None = None
    api_key_env: str | None = None
    stream: bool = True
    params: dict[str, Any] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    price: Price | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers (not secrets: use api_key_env for those)."""
    transport: Literal["direct", "sdk"] = "direct"
    """How requests are sent: posted by the harness with the openai SDK's URL and headers
    (`direct`, a quarter of the client CPU per request), or through the SDK's `create` (`sdk`)."""

    @field_validator("base_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        # Caught here, not at the first request: a URL without a scheme would otherwise become
        # one `connection` error record per case, and a run that "completed".
        try:
            parts = urlsplit(value)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a port that is not a number
            ok = False
        if not ok:
            raise ValueError(
                f"must be an absolute http(s) URL such as http://127.0.0.1:8000/v1, got {value!r}"
            )
        return value

    def api_key(self) -> str:
        """The key from the environment; servers without auth get a placeholder."""
        if self.api_key_env:
            return os.environ.get(self.api_key_env, "")
        return "not-needed"

    def missing_key(self) -> str | None:
        """The env var name when the endpoint needs a key that is not set."""
        if self.api_key_env and not os.environ.get(self.api_key_env):
            return self.api_key_env
        return None

    def auth_hint(self) -> str:
        """What to say on a 401, beyond "unauthorised"."""
        if self.preset in DASHSCOPE_OTHER_REGION or "dashscope" in self.base_url:
            other = DASHSCOPE_OTHER_REGION.get(
                self.preset or "",
                PRESETS["dashscope-cn"]["base_url"]
                if "intl" in self.base_url
                else PRESETS["dashscope-intl"]["base_url"],
            )
            return (
                "DashScope API keys are region-specific: a key from the other region is "
                "rejected here; "
                f"check ${self.api_key_env or 'DASHSCOPE_API_KEY'} or use base_url {other}"
            )
        if self.api_key_env:
            return f"check ${self.api_key_env}"
        return "the server requires an API key: set api_key_env"

    def public_dict(self) -> dict[str, Any]:
        """Everything but secrets, for the manifest (the key's variable name is not a secret)."""
        return self.model_dump(mode="json")


def from_preset(name: str, preset: str | None, **fields: Any) -> Endpoint:
    data: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise InputError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
        data.update({k: v for k, v in PRESETS[preset].items() if v is not None})
    data.update({k: v for k, v in fields.items() if v is not None})
    data["name"] = name
    data["preset"] = preset
    if "model" not in data:
        raise InputError(f"endpoint {name!r}: 'model' is required")
    try:
        return Endpoint.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            [f"endpoint {name!r}: {describe_validation_error(err)}" for err in exc.errors()]
        ) from None


def _read_config(p: Path) -> yaml.Node | None:
    """The config file's YAML node tree; unreadable or malformed files are file:line errors."""
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(Problem(str(p), 0, f"cannot read config: {exc.strerror or exc}")) from None
    try:
        return _yamlpos.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 1) if mark else 1
        problem = f"malformed YAML: {getattr(exc, 'problem', exc)}"
        raise InputError(Problem(str(p), line, problem)) from None


def load_config(path: str | Path) -> dict[str, Endpoint]:
    """Read `endpoints:` from a YAML config; every problem as file:line."""
    p = Path(path)
    name = str(p)
    root = _read_config(p)
    if not isinstance(root, yaml.MappingNode):
        raise InputError(Problem(name, 1, "a config must be a mapping with an 'endpoints' key"))
    data = _yamlpos.construct(root)
    eps = data.get("endpoints")
    if not isinstance(eps, dict) or not eps:
        raise InputError(
            Problem(name, 1, "'endpoints' must be a non-empty mapping of name -> settings")
        )
    problems: list[Problem] = []
    out: dict[str, Endpoint] = {}
    for ep_name, settings in eps.items():
        line = _yamlpos.line_of(root, ("endpoints", ep_name))
        if not isinstance(settings, dict):
            problems.append(
                Problem(name, line, f"endpoint {ep_name!r}: settings must be a mapping")
            )
            continue
        settings = dict(settings)
        preset = settings.pop("preset", None)
        if preset is not None and preset not in PRESETS:
            problems.append(
                Problem(
                    name,
                    _yamlpos.line_of(root, ("endpoints", ep_name, "preset")),
                    f"endpoint {ep_name!r}: unknown preset {preset!r} "
                    f"(known: {', '.join(PRESETS)})",
                )
            )
            continue
        base: dict[str, Any] = dict(PRESETS.get(preset, {})) if preset else {}
        base = {k: v for k, v in base.items() if v is not None}
        if "api_key" in settings:
            problems.append(
                Problem(
                    name,
                    _yamlpos.line_of(root, ("endpoints", ep_name, "api_key")),
                    f"endpoint {ep_name!r}: keys are never stored in config files; "
                    "name the environment variable with 'api_key_env'",
                )
            )
            continue
        merged = {**base, **settings, "name": str(ep_name), "preset": preset}
        params = merged.get("params")
        for key, msg in param_problems(params) if isinstance(params, dict) else ():
            ln = _yamlpos.line_of(root, ("endpoints", ep_name, "params", key))
            problems.append(Problem(name, ln, f"endpoint {ep_name!r}: {msg}"))
        try:
            endpoint = Endpoint.model_validate(merged)
        except ValidationError as exc:
            for err in exc.errors():
                ln = _yamlpos.line_of(root, ("endpoints", ep_name, *err["loc"]))
                msg = describe_validation_error(err)
                problems.append(Problem(name, ln, f"endpoint {ep_name!r}: {msg}"))
            continue
        out[str(ep_name)] = endpoint  # returned only when no endpoint had a problem
    if problems:
        problems.sort(key=lambda p: p.line)
        raise InputError(problems)
    return out


class GateConfig(BaseModel):
    """`gate:` in the config file: defaults for `harness diff` and the pytest plugin's gates."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(default=0.05, gt=0, lt=1)
    max_drop: float | None = Field(default=None, ge=0, le=1)
    """Largest allowed pass-rate drop, as a fraction (0.02 = 2 points)."""
    min_pass_rate: float | None = Field(default=None, ge=0, le=1)


def load_gate(path: str | Path | None) -> GateConfig:
    """The `gate:` section of a config file (defaults when there is none or no file)."""
    if path is None:
        default = Path("harness.yaml")
        if not default.is_file():
            return GateConfig()
        path = default
    p = Path(path)
    root = _read_config(p)
    if not isinstance(root, yaml.MappingNode):
        return GateConfig()
    data = _yamlpos.construct(root)
    raw = data.get("gate")
    if raw is None:
        return GateConfig()
    try:
        return GateConfig.model_validate(raw)
    except ValidationError as exc:
        raise InputError(
            [
                Problem(
                    str(p),
                    _yamlpos.line_of(root, ("gate", *err["loc"])),
                    f"gate: {describe_validation_error(err)}",
                )
                for err in exc.errors()
            ]
        ) from None


def resolve_endpoint(
    *,
    name: str | None = None,
    config: str | Path | None = None,
    base_url: str | None = None,
    model: str | None = None,
    api_key_env: str | None = None,
) -> Endpoint:
    """The endpoint a command asked for: a named config entry, a bare preset, or ad hoc flags."""
    if name and name in PRESETS and (base_url or model) and not config:
        # --endpoint PRESET --model M: a preset with a model (e.g. dashscope-intl qwen3.6-plus)
        return from_preset(name, name, base_url=base_url, model=model, api_key_env=api_key_env)
    if name:
        if config:
            endpoints = load_config(config)
            if name not in endpoints:
                raise InputError(
                    Problem(
                        str(config), 0, f"no endpoint {name!r} (defined: {', '.join(endpoints)})"
                    )
                )
            ep = endpoints[name]
            if model:
                ep = ep.model_copy(update={"model": model})
            return ep
        if name in PRESETS:
            return from_preset(name, name, model=model, api_key_env=api_key_env)
        default_cfg = Path("harness.yaml")
        if default_cfg.is_file():
            return resolve_endpoint(name=name, config=default_cfg, model=model)
        raise InputError(
            f"unknown endpoint {name!r}: not a preset ({', '.join(PRESETS)}) and no --config given"
        )
    if base_url and model:
        return from_preset("adhoc", None, base_url=base_url, model=model, api_key_env=api_key_env)
    raise InputError("give --endpoint NAME, or --base-url URL and --model M")
