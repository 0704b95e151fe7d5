"""YAML loading that remembers where each value came from.

Golden files are written by hand, so an error must point at the line to fix. We compose the
YAML into nodes (which carry marks), construct plain Python data from each case node, and keep
the node so a pydantic error location such as ``("checks", 2, "schema")`` can be mapped back to
the line of that key.
"""

from __future__ import annotations

from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """SafeLoader without the YAML 1.1 surprises that bite golden files (`on`/`no` as bools)."""


# YAML 1.1 reads `no`, `yes`, `on`, `off` as booleans; in prompts and tags they are words.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    __import__("re").compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def compose(text: str) -> yaml.Node | None:
    """Parse one YAML document into a node tree (raises yaml.YAMLError with a mark)."""
    return yaml.compose(text, Loader=_Loader)


def construct(node: yaml.Node) -> Any:
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def line_of(node: yaml.Node, loc: tuple[int | str, ...]) -> int:
    """1-based line of the deepest node reachable along `loc` (a pydantic error location)."""
    current = node
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    nxt = value_node
                    break
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(current.value)
        ):
            nxt = current.value[part]
        if nxt is None:
            break
        current = nxt
    return current.start_mark.line + 1
