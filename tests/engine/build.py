"""Build tiny, deterministic, *real* transformers models for engine tests, locally, in seconds.

Nothing is downloaded: the tokenizer is a byte-level BPE trained on this Python's own stdlib
sources, and the model is a 2-layer ``Qwen2ForCausalLM`` whose weights are set by hand so that
greedy decoding recites a fixed script and then emits ``<|im_end|>`` (eos).

How the script is wired (a "chain"):

* every layer's ``o_proj`` and ``down_proj`` are zero, so attention and MLP add nothing to the
  residual stream: the final hidden state is the input embedding of the *current* token, and the
  next token depends on that token alone;
* the prompt's last token (the ``\\n`` that ends the ChatML generation prompt
  ``<|im_start|>assistant\\n``) is the chain's start state; each scripted token ``t_k`` is a state
  whose embedding is a signed one-hot direction, and the ``lm_head`` row of ``t_{k+1}`` points
  along that direction, so ``start -> t_0 -> t_1 -> ... -> t_n -> <|im_end|>``;
* RMSNorm of a signed one-hot vector is the same vector times ``sqrt(hidden_size)``, so the final
  norm keeps the mapping; every other token embeds along a shared "other" direction that maps to
  eos, so an unexpected prompt ends at once with an empty answer.

A chain is only a function if its states are distinct, and natural BPE text repeats tokens (a
JSON object has many ``"``). The script is therefore segmented into *distinct* vocabulary tokens
by a small backtracking search (any segmentation decodes to the same text with a byte-level
decoder); the model emits that segmentation, not necessarily what ``encode`` would produce.

Tool calls: transformers serve parses replies with a response template chosen by
``model.config.model_type`` when the tokenizer has none (``_RESPONSE_TEMPLATE_FALLBACKS`` in
``transformers/cli/serving/utils.py``). For ``qwen2`` it is the Qwen 2.5 format: ``\\s*<tool_call>``
opens a JSON region closed by ``</tool_call>``, content closes at ``<|im_end|>``. A Qwen2 model
with this ChatML template therefore gets ``tool_calls`` (streaming and not) for free.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)
# Qwen 2.5 ships these as added, non-special tokens (kept by skip_special_tokens decoding).
ADDED_TOKENS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
VOCAB_SIZE = 1024  # BPE vocabulary including the special tokens; the added tokens come on top
TRAINING_BYTES = 3_000_000

HIDDEN_SIZE = 128
MAX_CHAIN_STATES = 2 * (HIDDEN_SIZE - 1)  # signed one-hot directions; dimension 0 is "other"
LOGIT_SCALE = 10.0

CHAT_ANSWER = "Paris is the capital of France."
TOOL_NAME = "get_weather"
TOOL_ARGUMENTS: dict[str, Any] = {"city": "Paris"}
# Compact JSON on purpose. With a GPT-2/Qwen style pre-tokenizer the spaced form
# `{"name": "get_weather", "arguments": {"city": "Paris"}}` needs three ` "` pieces (before
# get_weather, Paris and after "arguments":...) and no other vocabulary token can carry a space
# followed by a quote, so it cannot be spelled with distinct tokens. Clients never see the
# difference: serve parses the JSON and re-serialises `arguments` with json.dumps, so the wire
# value is '{"city": "Paris"}' either way.
TOOL_SCRIPT = (
    "<tool_call>"
    + json.dumps({"name": TOOL_NAME, "arguments": TOOL_ARGUMENTS}, separators=(",", ":"))
    + "</tool_call>"
)
# An OpenAI `tools` entry that matches the tool model's call.
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}

# ChatML with tools the Qwen 2.5 way (tools in the system prompt inside <tools></tools>, calls as
# <tool_call>{"name": ..., "arguments": ...}</tool_call>, results as <tool_response> user turns).
CHAT_TEMPLATE = """\
{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n\
You are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and \
arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n\
{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) \
or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {%- if tool_call.arguments is string %}
                {{- tool_call.arguments }}
            {%- else %}
                {{- tool_call.arguments | tojson }}
            {%- endif %}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""


def _stdlib_sources(limit: int = TRAINING_BYTES) -> list[str]:
    """Stdlib sources, sorted so that the corpus and the trained vocabulary are stable."""
    root = Path(os.path.dirname(os.__file__))
    texts: list[str] = []
    total = 0
    for path in sorted(root.glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        texts.append(text)
        total += len(text)
        if total >= limit:
            break
    return texts


_DEF = re.compile(r"def (\w+)\(([^)]*)\)")


def _tool_call_corpus(sources: Sequence[str]) -> str:
    """JSON tool calls made from the stdlib's own ``def`` lines, so BPE learns JSON punctuation.

    Python sources use single quotes, so without this the vocabulary has too few tokens that
    carry a ``"`` to spell a JSON tool call with distinct tokens.
    """
    lines: list[str] = []
    for source in sources:
        for match in _DEF.finditer(source):
            names = [a.split("=")[0].split(":")[0].strip(" *") for a in match.group(2).split(",")]
            args = {a: a.upper() for a in names if a.isidentifier() and a != "self"}
            call = {"name": match.group(1), "arguments": args}
            lines.append(json.dumps(call))
            lines.append(json.dumps(call, separators=(",", ":")))
    return "\n".join(lines)


def _training_text() -> list[str]:
    sources = _stdlib_sources()
    return [*sources, _tool_call_corpus(sources)]


def build_tokenizer(out_dir: str | os.PathLike[str]) -> Path:
    """Train a byte-level BPE on stdlib sources and save it as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_training_text(), trainer=trainer)
    fast_tokenizer: Any = PreTrainedTokenizerFast  # untyped constructor
    tokenizer = fast_tokenizer(
        tokenizer_object=bpe,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        additional_special_tokens=[IM_START],
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.add_tokens(list(ADDED_TOKENS))
    tokenizer.chat_template = CHAT_TEMPLATE
    # save_jinja_files=False keeps the template inside tokenizer_config.json.
    tokenizer.save_pretrained(str(out), save_jinja_files=False)
    return out


def _token_strings(tokenizer: Any) -> dict[str, int]:
    """Map decoded text -> id for every non-special token whose text is printable ASCII/newline."""
    specials = set(tokenizer.all_special_ids)
    table: dict[str, int] = {}
    for idx in range(len(tokenizer)):
        if idx in specials:
            continue
        text = tokenizer.decode([idx])
        if text and text.isascii() and text not in table:
            table[text] = idx
    return table


def segment_distinct(text: str, vocab: dict[str, int], exclude: Sequence[int] = ()) -> list[int]:
    """Split ``text`` into vocabulary tokens that are pairwise distinct and not in ``exclude``.

    Depth-first, longest piece first, with backtracking; raises ``ValueError`` if impossible.
    """
    pieces = sorted(vocab, key=len, reverse=True)
    used: set[int] = set(exclude)
    out: list[int] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(text) + 100))

    def search(pos: int) -> bool:
        if pos == len(text):
            return True
        for piece in pieces:
            idx = vocab[piece]
            if idx in used or not text.startswith(piece, pos):
                continue
            used.add(idx)
            out.append(idx)
            if search(pos + len(piece)):
                return True
            used.discard(idx)
            out.pop()
        return False

    if not search(0):
        raise ValueError(f"cannot split {text!r} into distinct tokens")
    return out


def _generation_prompt_last_token(tokenizer: Any) -> int:
    """The prompt's last token, checked to be the same with and without tools."""
    messages = [{"role": "user", "content": "Hello"}]
    last: set[int] = set()
    for tools in (None, [WEATHER_TOOL]):
        ids = tokenizer.apply_chat_template(
            messages, tools=tools, add_generation_prompt=True, tokenize=True, return_dict=False
        )
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        last.add(int(ids[-1]))
    if len(last) != 1:
        raise AssertionError(f"generation prompt ends with different tokens: {last}")
    return last.pop()


def plan_chain(tokenizer: Any, script: str) -> tuple[int, list[int]]:
    """Return ``(start_token, script_tokens)``: all distinct, and the start not among them."""
    start = _generation_prompt_last_token(tokenizer)
    eos = int(tokenizer.convert_tokens_to_ids(IM_END))
    chain = segment_distinct(script, _token_strings(tokenizer), exclude=(start, eos))
    if tokenizer.decode(chain) != script:
        raise AssertionError(f"chain decodes to {tokenizer.decode(chain)!r}, not {script!r}")
    if len(chain) + 1 > MAX_CHAIN_STATES:
        raise ValueError(f"script too long: {len(chain)} tokens > {MAX_CHAIN_STATES - 1}")
    if len(set(chain)) != len(chain) or start in chain or eos in chain:
        raise AssertionError("chain states are not distinct")
    return start, chain


def build_scripted_model(
    out_dir: str | os.PathLike[str],
    script: str,
    *,
    tokenizer_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Save a Qwen2 model (+ tokenizer) whose greedy reply to any ChatML prompt is ``script``.

    ``tokenizer_dir`` reuses a tokenizer saved by :func:`build_tokenizer` (copied into
    ``out_dir``); without it a fresh tokenizer is trained into ``out_dir``.
    """
    import torch
    from transformers import (
        GenerationConfig,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if tokenizer_dir is None:
        build_tokenizer(out)
    else:
        for item in Path(tokenizer_dir).iterdir():
            if item.is_file():
                shutil.copy2(item, out / item.name)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(out))
    start, chain = plan_chain(tokenizer, script)
    eos = int(tokenizer.convert_tokens_to_ids(IM_END))
    pad = int(tokenizer.convert_tokens_to_ids(ENDOFTEXT))

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN_SIZE,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=eos,
        pad_token_id=pad,
    )
    torch.manual_seed(0)
    model: Any = Qwen2ForCausalLM(config)
    model = model.to(torch.float32).eval()

    with torch.no_grad():
        for layer in model.model.layers:
            for linear in (layer.self_attn.o_proj, layer.mlp.down_proj):
                linear.weight.zero_()
                if linear.bias is not None:
                    linear.bias.zero_()
        embed = model.model.embed_tokens.weight
        head = model.lm_head.weight
        embed.zero_()
        head.zero_()
        model.model.norm.weight.fill_(1.0)
        # Every token not in the chain embeds along dimension 0, which leads to eos.
        embed[:, 0] = 1.0
        head[eos, 0] = LOGIT_SCALE
        states = [start, *chain]
        successors = [*chain, eos]
        for j, (state, successor) in enumerate(zip(states, successors, strict=True)):
            dim, sign = 1 + j // 2, (1.0 if j % 2 == 0 else -1.0)
            embed[state].zero_()
            embed[state, dim] = sign
            head[successor, dim] += sign * LOGIT_SCALE

    generation_config: Any = GenerationConfig  # untyped constructor
    model.generation_config = generation_config(
        do_sample=False,
        eos_token_id=eos,
        pad_token_id=pad,
        bos_token_id=None,
        max_new_tokens=1024,
    )
    with _quiet_progress_bars():
        model.save_pretrained(str(out))
    (out / "script.json").write_text(
        json.dumps({"script": script, "start": start, "chain": chain}, indent=1) + "\n"
    )
    _check_greedy(model, tokenizer, script)
    return out


@contextlib.contextmanager
def _quiet_progress_bars() -> Iterator[None]:
    """Silence transformers' "Writing model shards" bar, restoring the previous setting."""
    from transformers.utils import logging

    hf_logging: Any = logging  # untyped module functions

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _check_greedy(model: Any, tokenizer: Any, script: str) -> None:
    """Generate once in-process and assert the model recites exactly ``script`` then eos."""
    import torch

    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}],
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        output = model.generate(**ids, max_new_tokens=256, do_sample=False)
    new = output[0, ids["input_ids"].shape[-1] :].tolist()
    eos = int(tokenizer.convert_tokens_to_ids(IM_END))
    if not new or new[-1] != eos:
        raise AssertionError(f"model did not end with eos: {new}")
    text = tokenizer.decode(new[:-1])
    if text != script:
        raise AssertionError(f"model says {text!r}, expected {script!r}")


def build_chat_model(
    out_dir: str | os.PathLike[str], *, tokenizer_dir: str | os.PathLike[str] | None = None
) -> Path:
    """A model that answers :data:`CHAT_ANSWER` then eos (finish_reason ``stop``)."""
    return build_scripted_model(out_dir, CHAT_ANSWER, tokenizer_dir=tokenizer_dir)


def build_tool_model(
    out_dir: str | os.PathLike[str], *, tokenizer_dir: str | os.PathLike[str] | None = None
) -> Path:
    """A model that calls ``get_weather(city="Paris")`` Qwen-style, then eos."""
    return build_scripted_model(out_dir, TOOL_SCRIPT, tokenizer_dir=tokenizer_dir)


def build_all(out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Build the tokenizer once and both models under ``out_dir``; return their folders."""
    root = Path(out_dir)
    tok = build_tokenizer(root / "tokenizer")
    return {
        "chat": build_chat_model(root / "chat", tokenizer_dir=tok),
        "tool": build_tool_model(root / "tool", tokenizer_dir=tok),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python tests/engine/build.py OUT_DIR``: build both models (for manual serving)."""
    import time

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: build.py OUT_DIR", file=sys.stderr)
        return 2
    began = time.perf_counter()
    paths = build_all(args[0])
    for name, path in paths.items():
        print(f"{name}: {path}")
    print(f"built in {time.perf_counter() - began:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
