"""Rate limits on asking and writing, per API key (per client address without one): a noisy
client gets 429 with ``Retry-After`` instead of starving everyone (every ask runs the model).

Pure ASGI middleware, ahead of authentication: a request is counted by the key it presents
(hashed, never stored), so that guessing keys is limited too. The counters live in the `limits`
library's storage: in memory per process by default, or in a store that replicas share
(``TROLY_RATE_LIMIT_STORAGE=redis://…``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from typing import Literal

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import is_openai_path, shaped

Kind = Literal["ask", "write"]
ASK_PATHS = ("/v1/ask", "/v1/chat/completions")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def parse_limit(value: str) -> list[RateLimitItem]:
    """``"120/minute;1000/hour"`` → its limits; ``""`` → none (Settings has checked the syntax)."""
    return list(parse_many(value)) if value.strip() else []


def kind_of(method: str, path: str) -> Kind | None:
    if path in ASK_PATHS:
        return "ask" if method == "POST" else None
    if method in WRITES and path.startswith("/v1/"):
        return "write"
    return None


def identity(scope: Scope) -> str:
    """Who is counted: the key presented (as a hash), else the client's address."""
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return "key:" + hashlib.sha256(token.strip().encode()).hexdigest()[:24]
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")


class RateLimits:
    def __init__(self, app: ASGIApp, ask: str, write: str, storage: str) -> None:
        self.app = app
        self.limits: dict[Kind, list[RateLimitItem]] = {
            "ask": parse_limit(ask),
            "write": parse_limit(write),
        }
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage))

    def retry_after(self, kind: Kind, who: str) -> int | None:
        """None when the request may go on (and is counted); else seconds until it may."""
        waits = []
        for item in self.limits[kind]:
            if not self.limiter.hit(item, kind, who):
                reset = self.limiter.get_window_stats(item, kind, who).reset_time
                waits.append(max(1, math.ceil(reset - time.time())))
        return max(waits) if waits else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = kind_of(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or not self.limits[kind]:
            await self.app(scope, receive, send)
            return
        wait = self.retry_after(kind, identity(scope))
        if wait is None:
            await self.app(scope, receive, send)
            return
        openai = is_openai_path(scope.get("path", ""), scope.get("root_path", ""))
        message = f"too many requests: the {kind} limit is {'; '.join(str(i) for i in self.limits[kind])}"
        status, error = shaped(429, "rate_limited", message + f"; retry in {wait} s", openai=openai)
        body = json.dumps(error).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(wait).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
