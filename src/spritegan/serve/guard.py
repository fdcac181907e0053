"""What keeps hostile clients out of the studio: a Host-header allowlist (DNS rebinding), a deadline for
request headers (slowloris), and reads that never leave the runs folder (symlinks).

The Host check is ASGI middleware. The header deadline has to live in the HTTP protocol, because uvicorn only
calls the app once the headers are complete and its own `timeout_keep_alive` is cancelled by every byte that
arrives: `header_deadline_protocol` subclasses uvicorn's protocol class and closes a connection whose request
head is not complete within the deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


async def json_error(send: Any, status: int, message: str) -> None:
    """Answer an ASGI http request with `{"detail": message}` and the given status."""
    data = json.dumps({"detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def host_name(value: str) -> str:
    """The name part of a Host header, lower case: 'LocalHost:8000' -> 'localhost', '[::1]:80' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        inner, sep, rest = value[1:].partition("]")
        return inner if sep and (not rest or rest[0] == ":") else value
    name, _, port = value.partition(":")
    return name if port.isdigit() or not port else value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostAllowlist:
    """Which Host headers the server answers.

    Always the loopback names, plus the address the server is bound to and any names given with
    --allow-host. A server bound to every interface (0.0.0.0 or ::) also answers any IP literal, since a DNS
    rebinding attack needs a domain name; `*` turns the check off.
    """

    def __init__(self, bind_host: str = "127.0.0.1", extra: Iterable[str] = ()) -> None:
        names = {*LOOPBACK_NAMES, *(host_name(h) for h in extra)}
        bind = host_name(bind_host)
        self.any_ip = bind in WILDCARD_BINDS
        if not self.any_ip:
            names.add(bind)
        self.anything = "*" in names
        self.names = frozenset(names - {"*"})

    def allows(self, header: str | None) -> bool:
        """Whether a request with this Host header (None when absent) is answered."""
        if self.anything:
            return True
        if not header:
            return False
        name = host_name(header)
        return name in self.names or (self.any_ip and _is_ip(name))

    def describe(self) -> str:
        """The allowed names, for error messages and the start-up line."""
        if self.anything:
            return "any host"
        shown = sorted(self.names) + (["any IP address"] if self.any_ip else [])
        return ", ".join(shown)


class HostCheck:
    """ASGI middleware: 421 with a JSON error for requests whose Host header is not allowed."""

    def __init__(self, app: Any, allowlist: HostAllowlist) -> None:
        self.app = app
        self.allowlist = allowlist

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        raw = dict(scope.get("headers") or []).get(b"host")
        header = raw.decode("latin-1") if raw is not None else None
        if self.allowlist.allows(header):
            return await self.app(scope, receive, send)
        named = f"host {header[:80]!r}" if header else "a request without a Host header"
        await json_error(
            send,
            421,
            f"{named} is not served here (allowed: {self.allowlist.describe()}); "
            "start the studio with --allow-host NAME to add one",
        )


def header_deadline_protocol(seconds: float, base: type | None = None) -> type:
    """uvicorn's HTTP protocol class with a deadline for each request head (request line and headers).

    The clock starts when a connection opens and again when a response is complete (keep-alive); it stops
    when uvicorn has parsed a full request head (a new request cycle exists). When it runs out the connection
    is closed. Bodies have their own bound in the app (`Limits.body_timeout_s`). Requests uvicorn cannot
    parse (garbage, headers over h11's 16 KiB) get its 400 as JSON too.
    """
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        base = AutoHTTPProtocol

    class HeaderDeadline(base):  # type: ignore[misc, valid-type]
        header_timeout_s = seconds

        def connection_made(self, transport: Any) -> None:
            self._head_timer: asyncio.TimerHandle | None = None
            self._waiting_since: Any = None
            super().connection_made(transport)
            self._start_clock()

        def _start_clock(self) -> None:
            self._stop_clock()
            self._waiting_since = self.cycle
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_expired)

        def _stop_clock(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_expired(self) -> None:
            self._head_timer = None
            if self.cycle is self._waiting_since and not self.transport.is_closing():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not self._waiting_since:
                self._stop_clock()

        def on_response_complete(self) -> None:
            before = self.cycle
            super().on_response_complete()
            if self.cycle is before and not self.transport.is_closing():
                self._start_clock()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_clock()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            body = json.dumps({"detail": f"bad HTTP request: {msg}"}).encode()
            head = (
                f"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
            )
            self.transport.write(head.encode() + b"\r\nconnection: close\r\n\r\n" + body)
            self.transport.close()

    return HeaderDeadline


def studio_server(
    app: Any,
    host: str,
    port: int,
    *,
    header_timeout_s: float = 10.0,
    keep_alive_s: int = 5,
    log_level: str = "warning",
) -> Any:
    """A uvicorn.Server for the studio app with the header deadline in its HTTP protocol."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_keep_alive=keep_alive_s,
        http=header_deadline_protocol(header_timeout_s),
        ws="none",  # the studio has no websockets; an upgrade header is ignored
    )
    return uvicorn.Server(config)


def inside(path: Path, root: Path) -> Path | None:
    """path's real location when it is a regular file inside root (itself resolved); None otherwise.

    Symlinks are followed to their end before the check, so a link that points out of root is refused.
    """
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return real if real.is_relative_to(root) and real.is_file() else None


def read_inside(path: Path, root: Path, max_bytes: int) -> bytes | None:
    """The bytes of a regular file inside root, opened without following a final symlink; None when the
    file is outside root, not a regular file, gone, or over max_bytes."""
    real = inside(path, root)
    if real is None:
        return None
    try:
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        return fh.read(max_bytes)
