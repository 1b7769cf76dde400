"""Fetching what the verifier checks from a Commonpot server, with urllib only.

Nothing fetched is trusted: entries are re-hashed, checkpoints' signatures checked against the
pinned key, proofs verified against signed roots. This module only moves bytes and says
plainly when it could not.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

USER_AGENT = "commonpot-verify/1"
MAX_RESPONSE_BYTES = 64 << 20
PAGE_SIZE = 500


class NetworkError(Exception):
    """The server could not be reached or did not answer usefully."""


class ServerRefused(NetworkError):
    """The server answered with an HTTP error (its problem detail, if any, is in the message)."""

    def __init__(self, message: str, status: int, problem_type: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.problem_type = problem_type


class BadAnswer(Exception):
    """The server answered something that is not what the API promises (a failed check)."""


class Server:
    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"{base_url!r} is not an http:// or https:// address")
        self.base = base_url.rstrip("/")
        self.timeout = timeout

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return f"{self.base}{path}{query}"

    def get(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        url = self.url(path, params)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: bytes = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            with exc:
                raise _refusal(url, exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NetworkError(f"could not reach {url}: {reason}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise NetworkError(f"the answer from {url} is larger than {MAX_RESPONSE_BYTES} bytes")
        return body

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.get(path, params)
        try:
            value = json.loads(body)
        except ValueError:
            raise BadAnswer(f"the server's answer to {path} is not JSON") from None
        if not isinstance(value, dict):
            raise BadAnswer(f"the server's answer to {path} is not a JSON object")
        return value

    @staticmethod
    def _pot(slug: str) -> str:
        return "/api/v1/pots/" + urllib.parse.quote(slug, safe="")

    def pot(self, slug: str) -> dict[str, Any]:
        return self.get_json(self._pot(slug))

    def entries(self, slug: str) -> Iterator[dict[str, Any]]:
        """Every entry in sequence order, a page at a time."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            page = self.get_json(self._pot(slug) + "/entries", params)
            items = page.get("items")
            if not isinstance(items, list):
                raise BadAnswer("a page of entries has no list of items")
            yield from items
            cursor = page.get("next_cursor")
            if not cursor:
                return
            if not isinstance(cursor, str):
                raise BadAnswer("a page of entries has a malformed next_cursor")

    def entry(self, slug: str, seq: int) -> dict[str, Any]:
        return self.get_json(f"{self._pot(slug)}/entries/{seq}")

    def checkpoint(self, slug: str) -> bytes:
        return self.get(self._pot(slug) + "/checkpoint")

    def inclusion(self, slug: str, seq: int, tree_size: int) -> dict[str, Any]:
        params = {"seq": seq, "tree_size": tree_size}
        return self.get_json(self._pot(slug) + "/proofs/inclusion", params)

    def consistency(self, slug: str, old_size: int, new_size: int) -> dict[str, Any]:
        params = {"from": old_size, "to": new_size}
        return self.get_json(self._pot(slug) + "/proofs/consistency", params)


def _refusal(url: str, exc: urllib.error.HTTPError) -> ServerRefused:
    detail, problem_type = "", None
    try:
        problem = json.loads(exc.read(65536))
        if isinstance(problem, dict):
            detail = str(problem.get("detail") or problem.get("title") or "")
            problem_type = problem.get("type") if isinstance(problem.get("type"), str) else None
    except (ValueError, OSError):
        pass
    message = f"the server answered {exc.code} {exc.reason} for {url}"
    if detail:
        message += f": {detail}"
    return ServerRefused(message, exc.code, problem_type)
