"""What a server's error status or error object means for the record: one `ErrorInfo`.

Kept apart from the assembler because the rules are about vendors' error vocabularies, not
about chunks: DashScope sends billing (`Arrearage`) and moderation (`DataInspectionFailed`)
refusals as 400s or inside a 200 stream, free-tier exhaustion as a 429, and vLLM puts the HTTP
status in an integer `code`. The type decides retries (`harness.retry`), so a wrong type either
retries what cannot succeed or gives up on what could. Failures below HTTP (refused, reset, cut
connections) are judged in `harness.client`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from harness._assemble import excerpt
from harness.records import ErrorInfo, ErrorType

__all__ = ["classify_error"]

_QUOTA_CODES = frozenset(
    {
        "insufficientquota",
        "arrearage",
        "allocationquotafreetieronly",
        "billinghardlimitreached",
        "billingnotactive",
    }
)
_MODERATION_CODES = frozenset(
    {"datainspectionfailed", "contentfilter", "contentpolicyviolation", "contentfiltered"}
)
_RATE_CODES = frozenset({"limitrequests", "ratelimitexceeded", "ratelimiterror", "toomanyrequests"})


def _norm(value: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value).lower()) if value is not None else ""


def classify_error(status: int | None, error: Any, *, auth_hint: str = "") -> ErrorInfo:
    """The record's error for an HTTP status and/or a server error object.

    `error` is what the server sent: `{"error": {...}}`, the inner object, a native-style
    `{code, message}`, or text. Billing and moderation codes decide before the status (DashScope
    sends `Arrearage` and `DataInspectionFailed` as 400s, free-tier exhaustion as a 429, and
    moderation as an error object inside a 200 stream); then the status; for an error inside a
    200 body, an integer `code` (vLLM puts the HTTP status there) or a throttling code.
    """
    if isinstance(error, dict) and isinstance(error.get("error"), dict | str):
        error = error["error"]
    code: Any = None
    kind: Any = None
    if isinstance(error, dict):
        code, kind = error.get("code"), error.get("type")
        message = str(error.get("message") or "")
    else:
        message = str(error or "")
    names = {_norm(code), _norm(kind)}
    effective = status if status not in (None, 200) else _status_in(code)
    error_type: ErrorType
    if names & _QUOTA_CODES:
        error_type = "quota"
    elif names & _MODERATION_CODES:
        error_type = "content_filter"
    elif effective is not None:
        error_type = _status_type(effective)
    elif names & _RATE_CODES or any(n.startswith("throttling") for n in names):
        error_type = "rate_limit"
    else:
        error_type = "server"
    if not message:
        where = f"HTTP {status}" if status not in (None, 200) else "error inside the response"
        message = f"{where}: {excerpt(orjson.dumps(error))}" if error else where
    if error_type == "auth" and auth_hint:
        message = f"{message} ({auth_hint})"
    return ErrorInfo(
        type=error_type,
        status_code=status,
        code=None if code is None else str(code),
        message=message,
    )


def _status_in(code: Any) -> int | None:
    if type(code) is int and 400 <= code <= 599:
        return code
    return None


def _status_type(status: int) -> ErrorType:
    if status == 429:
        return "rate_limit"
    if status in (401, 403):
        return "auth"
    if status == 408:
        return "timeout"
    if 400 <= status < 500:
        return "bad_request"
    if status >= 500:
        return "server"
    return "protocol"
