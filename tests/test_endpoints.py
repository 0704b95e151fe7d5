"""Endpoint config: presets, file:line errors, keys only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.endpoints import PRESETS, Endpoint, Price, load_config, resolve_endpoint
from harness.errors import InputError


def test_presets_fill_urls_and_key_env(tmp_path: Path) -> None:
    cfg = tmp_path / "h.yaml"
    cfg.write_text(
        "endpoints:\n"
        "  intl:\n    preset: dashscope-intl\n    model: qwen3.6-plus\n"
        "  cn:\n    preset: dashscope-cn\n    model: qwen3.5-flash\n    limits: {rpm: 60, rps: 2}\n"
        "  local:\n    preset: vllm\n    model: Qwen/Qwen3-8B\n    base_url: http://10.0.0.5:8000/v1\n"
    )
    eps = load_config(cfg)
    assert eps["intl"].base_url == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert eps["intl"].api_key_env == "DASHSCOPE_API_KEY"
    assert eps["cn"].base_url == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert eps["cn"].limits.rpm == 60 and eps["cn"].limits.rps == 2
    assert eps["local"].base_url == "http://10.0.0.5:8000/v1"
    assert set(PRESETS) >= {
        "dashscope-intl",
        "dashscope-cn",
        "openai",
        "vllm",
        "sglang",
        "ollama",
        "llamacpp",
        "transformers",
        "sim",
    }


def test_config_errors_have_lines(tmp_path: Path) -> None:
    cfg = tmp_path / "h.yaml"
    cfg.write_text(
        "endpoints:\n"
        "  a:\n    preset: dashscope-intl\n    model: m\n    limits: {concurency: 3}\n"
        "  b:\n    preset: nope\n    model: m\n"
        "  c:\n    base_url: http://x\n    model: m\n    api_key: sk-secret\n"
    )
    with pytest.raises(InputError) as info:
        load_config(cfg)
    lines = info.value.lines()
    assert f"{cfg}:5: endpoint 'a': unknown key 'limits.concurency'" in lines
    assert any(line.startswith(f"{cfg}:7: endpoint 'b': unknown preset 'nope'") for line in lines)
    assert any(line.startswith(f"{cfg}:12: endpoint 'c': keys are never stored") for line in lines)
    assert all("sk-secret" not in line for line in lines)


def test_config_params_and_base_url_problems_have_lines_all_at_once(tmp_path: Path) -> None:
    """Params the request cannot carry are placed on their own line, beside other problems."""
    cfg = tmp_path / "h.yaml"
    cfg.write_text(
        "endpoints:\n"
        "  local:\n"
        "    preset: vllm\n"
        "    base_url: localhost:8000/v1\n"
        "    model: m\n"
        "    params:\n"
        "      temperature: 0\n"
        "      enable_thinking: false\n"
        "      model: other\n"
        "  fine:\n    preset: vllm\n    model: m\n    params: {extra_body: {top_k: 20}}\n"
    )
    with pytest.raises(InputError) as info:
        load_config(cfg)
    assert info.value.lines() == [
        f"{cfg}:4: endpoint 'local': base_url: must be an absolute http(s) URL such as "
        "http://127.0.0.1:8000/v1, got 'localhost:8000/v1'",
        f"{cfg}:8: endpoint 'local': params.enable_thinking is not a chat.completions field; "
        "server-specific fields (DashScope, vLLM) go under params.extra_body, "
        "e.g. extra_body: {enable_thinking: ...}",
        f"{cfg}:9: endpoint 'local': params.model is not an endpoint param: "
        "set the endpoint's 'model' instead",
    ]


@pytest.mark.parametrize(
    "url", ["notaurl", "localhost:8000/v1", "ftp://h/v1", "http:///v1", "http://h:abc/v1", ""]
)
def test_base_url_must_be_absolute_http(url: str) -> None:
    with pytest.raises(InputError, match=r"endpoint 'adhoc': base_url: must be an absolute http"):
        resolve_endpoint(base_url=url or " ", model="m")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "http://[::1]:8080/v1",
        "http://gpu-box/v1/",
    ],
)
def test_base_url_accepts_real_endpoints(url: str) -> None:
    assert resolve_endpoint(base_url=url, model="m").base_url == url


def test_key_comes_from_env_and_is_not_dumped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-very-secret")
    ep = resolve_endpoint(name="dashscope-intl", model="qwen3.5-plus")
    assert ep.api_key() == "sk-test-very-secret"
    assert "sk-test-very-secret" not in ep.model_dump_json()
    assert "sk-test-very-secret" not in str(ep.public_dict())
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    assert ep.missing_key() == "DASHSCOPE_API_KEY"


def test_auth_hint_names_the_other_region() -> None:
    intl = resolve_endpoint(name="dashscope-intl", model="qwen3.5-plus")
    assert PRESETS["dashscope-cn"]["base_url"] in intl.auth_hint()
    cn = resolve_endpoint(name="dashscope-cn", model="qwen3.5-plus")
    assert PRESETS["dashscope-intl"]["base_url"] in cn.auth_hint()


def test_adhoc_and_unknown() -> None:
    ep = resolve_endpoint(base_url="http://127.0.0.1:9/v1", model="m")
    assert isinstance(ep, Endpoint) and ep.api_key_env is None
    with pytest.raises(InputError, match="unknown endpoint 'nope'"):
        resolve_endpoint(name="nope")
    with pytest.raises(InputError, match="--base-url"):
        resolve_endpoint()


def test_price_unknown_tokens_is_unknown_cost() -> None:
    price = Price(input_per_mtok=1.0, output_per_mtok=2.0, cached_input_per_mtok=0.1)
    assert price.cost(None, 10) is None
    assert price.cost(1_000_000, 500_000, cached=500_000) == pytest.approx(0.5 + 0.05 + 1.0)
