"""Check throughput for the structured family (checks per second, one check at a time).

    python benchmarks/bench_checks_structured.py [--n 5000] [--rounds 5]

The output is a realistic extraction answer: a sentence of prose, then the invoice in a
```json block (12 line items, ~1.6 KB), then a closing sentence, so every check also pays for
finding the JSON. Half of the answers are valid and half carry three violations (the slow
path: every error collected, sorted and described). Measured per check:

- `json_valid`: extraction only;
- `json_schema`: an invoice schema (required fields, patterns, formats, enums, nested items);
- `json_match`: a 20-leaf subset of the invoice with a numeric tolerance, case-insensitive
  names and the line items compared unordered (the optimal-assignment path).

Each figure is the best of `--rounds` rounds of `--n` calls, in CPU time of this process (so a
busy machine does not inflate it), printed as checks per second and microseconds per check.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from typing import Any

import harness.checks.structured  # noqa: F401  (registers the checks)
from harness.checks._base import CheckContext
from harness.golden import case_from_dict
from harness.records import Output

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["invoice_number", "date", "vendor", "currency", "line_items", "total"],
    "additionalProperties": False,
    "properties": {
        "invoice_number": {"type": "string", "pattern": "^INV-[0-9]{4,}$"},
        "date": {"type": "string", "format": "date"},
        "due_date": {"type": "string", "format": "date"},
        "vendor": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "vat_id": {"type": ["string", "null"]},
                "email": {"type": "string", "format": "email"},
            },
        },
        "currency": {"enum": ["USD", "EUR", "CNY", "GBP"]},
        "line_items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["description", "quantity", "unit_price", "amount"],
                "additionalProperties": False,
                "properties": {
                    "description": {"type": "string"},
                    "sku": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "unit_price": {"type": "number", "minimum": 0},
                    "amount": {"type": "number", "minimum": 0},
                },
            },
        },
        "subtotal": {"type": "number"},
        "tax": {"type": "number", "minimum": 0},
        "total": {"type": "number", "minimum": 0},
    },
}


def invoice() -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {
            "description": f"Item {i}",
            "sku": f"SKU-{i:04d}",
            "quantity": i % 4 + 1,
            "unit_price": 9.5 + i,
            "amount": (i % 4 + 1) * (9.5 + i),
        }
        for i in range(12)
    ]
    subtotal = round(sum(it["amount"] for it in items), 2)
    return {
        "invoice_number": "INV-10423",
        "date": "2024-03-15",
        "due_date": "2024-04-14",
        "vendor": {"name": "Acme Supplies GmbH", "vat_id": "DE123456789", "email": "ap@acme.de"},
        "currency": "EUR",
        "line_items": items,
        "subtotal": subtotal,
        "tax": round(subtotal * 0.19, 2),
        "total": round(subtotal * 1.19, 2),
    }


def answer(doc: dict[str, Any]) -> str:
    return (
        "Here is the extracted invoice data:\n\n```json\n"
        + json.dumps(doc, indent=2)
        + "\n```\n\nLet me know if you need anything else."
    )


def broken(doc: dict[str, Any]) -> dict[str, Any]:
    bad = copy.deepcopy(doc)
    bad["line_items"][3]["unit_price"] = -3
    bad["date"] = "15/03/2024"
    del bad["currency"]
    return bad


def expected_subset(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "invoice_number": doc["invoice_number"],
        "vendor": {"name": "ACME SUPPLIES GMBH"},
        "currency": doc["currency"],
        "total": doc["total"] + 0.004,
        "line_items": [
            {"sku": it["sku"], "quantity": it["quantity"]} for it in reversed(doc["line_items"][:8])
        ],
    }


def bench(check: dict[str, Any], outputs: list[str], n: int, rounds: int) -> float:
    case = case_from_dict(
        {
            "id": "inv",
            "category": "extraction",
            "messages": [{"role": "user", "content": "Extract the invoice."}],
            "checks": [check],
        }
    )
    fn = case.bound_checks[0].check
    ctxs = [CheckContext(case=case, output=Output(content=o)) for o in outputs]
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for i in range(n):
            fn(ctxs[i % len(ctxs)])
        best = min(best, (time.process_time() - start) / n)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    doc = invoice()
    outputs = [answer(doc), answer(broken(doc))]
    print(f"answer size: {len(outputs[0])} characters; half valid, half with 3 violations")
    checks: list[tuple[str, dict[str, Any]]] = [
        ("json_valid", {"type": "json_valid"}),
        ("json_schema", {"type": "json_schema", "schema": SCHEMA}),
        (
            "json_match",
            {
                "type": "json_match",
                "expected": expected_subset(doc),
                "numeric_tolerance": 0.01,
                "fields": {"$.vendor.name": {"ignore_case": True}},
                "unordered_lists": ["$.line_items"],
                "allow_extra_items": True,
            },
        ),
    ]
    for name, check in checks:
        per = bench(check, outputs, args.n, args.rounds)
        print(f"{name:12s} {1 / per:10,.0f} checks/s  {per * 1e6:8.1f} µs/check")


if __name__ == "__main__":
    main()
