"""Which cases a run covers: categories, a text filter and a shard.

Stored in the manifest (`selection`) so that `--resume` picks exactly the same cases, and
shards by a hash of the case id (not by position) so adding a case does not reshuffle them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from harness.errors import InputError
from harness.golden import Suite

__all__ = ["Selection", "parse_shard"]


@dataclass(frozen=True)
class Selection:
    """Which cases a run covers; stored in the manifest so `--resume` picks the same ones."""

    categories: tuple[str, ...] = ()
    filter_text: str | None = None
    shard: tuple[int, int] | None = None
    """(i, n), 1-based: this process runs shard i of n."""

    def apply(self, suite: Suite) -> Suite:
        sub = suite.select(categories=self.categories or None, filter_text=self.filter_text)
        if self.shard is None:
            return sub
        i, n = self.shard
        # Shard by a hash of the id, not by position, so adding a case does not reshuffle shards.
        keep = [
            c for c in sub.cases if int(hashlib.sha1(c.id.encode()).hexdigest(), 16) % n == i - 1
        ]
        return Suite(path=sub.path, cases=keep)

    def describe(self) -> str:
        """For messages: `category rag; filter 'refund'; shard 2/4`, or `all cases`."""
        parts = []
        if self.categories:
            parts.append(f"category {', '.join(self.categories)}")
        if self.filter_text is not None:
            parts.append(f"filter {self.filter_text!r}")
        if self.shard is not None:
            parts.append(f"shard {self.shard[0]}/{self.shard[1]}")
        return "; ".join(parts) or "all cases"

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": list(self.categories),
            "filter": self.filter_text,
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Selection:
        return cls(
            categories=tuple(d.get("categories") or ()),
            filter_text=d.get("filter"),
            shard=parse_shard(d["shard"]) if d.get("shard") else None,
        )


def parse_shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise InputError(f"--shard must look like I/N with 1 <= I <= N, got {text!r}")
    return int(m.group(1)), int(m.group(2))
