"""Stop a run that cannot succeed: a wrong key, an unpaid account, a model name that is not
served, a server that is not there.

Those errors say nothing about the case, so once `limits.fail_fast_after` records in a row end
with one, the rest of the suite would too: at an RPM limit, a 10,000-case run would spend hours
writing the same error. A `connection` record (refused, reset, DNS) is written only after its
retries and their backoff, so ten in a row mean the server has been unreachable for a while, not
a blip. Errors that depend on the case (a 400 for one prompt, a timeout on a long answer)
neither count nor reset the streak; an ok record resets it.
"""

from __future__ import annotations

from harness.errors import EndpointFailing
from harness.records import ErrorInfo, Record


def fails_every_case(error: ErrorInfo) -> bool:
    """A key, a billing state, a model name or an unreachable server: nothing about the case."""
    return error.type in ("auth", "quota", "connection") or (
        error.type == "bad_request" and error.status_code == 404
    )


class FailFast:
    """Watches records as they are written; raises EndpointFailing at the limit (0: never)."""

    def __init__(self, after: int) -> None:
        self.after = after
        self._streak = 0
        """Records since the last ok one that failed with an error no case can escape."""

    def watch(self, rec: Record) -> None:
        if not self.after:
            return
        if rec.status == "ok":
            self._streak = 0
        elif rec.error is not None and fails_every_case(rec.error):
            self._streak += 1
            if self._streak >= self.after:
                error = rec.error
                code = f" {error.status_code}" if error.status_code else ""
                raise EndpointFailing(
                    f"stopped: {self._streak} records in a row failed with {error.type}{code} "
                    f"({error.message}), and every other case would too"
                )
