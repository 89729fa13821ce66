"""An httpx transport over a small HTTP/1.1 keep-alive pool on asyncio and httptools.

With 64 concurrent requests, httpx.AsyncClient over its default httpcore
pool reached about a tenth of the rate that the server allowed, and an
httpx transport over an aiohttp session spent about twice the CPU per
request of plain aiohttp. So the client sends ``httpx.Request`` objects
straight to this transport, which writes each request on a pooled asyncio
connection and parses the response with httptools, the C parser (llhttp)
that uvicorn uses. It reads each body in full before it returns, so the
response carries plain content. docs/benchmarks.md has the measurements.

The transport raises httpx exceptions only, as every httpx transport does;
``batch_sync.client`` turns them into batch_sync errors:

- httpx.ConnectError: the connection or the TLS handshake failed.
- httpx.ConnectTimeout, httpx.ReadTimeout, httpx.PoolTimeout: the
  ``connect``, ``read`` or ``pool`` timeout of the request's ``timeout``
  extension ran out. ``write`` is ignored, because a request is handed to
  the socket's buffer at once.
- httpx.NetworkError: the server closed the connection without answering.
- httpx.ReadError: the connection failed while the response was arriving.
- httpx.RemoteProtocolError: the response is not valid HTTP/1.1.
- httpx.LocalProtocolError: a request header contains a line break.

Proxies are not supported: the HTTP_PROXY and HTTPS_PROXY variables are
ignored, as aiohttp's ClientSession ignores them by default.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from dataclasses import dataclass

import httpx

from batch_sync.http1 import ClosedBeforeResponse, Http1Connection, RawResponse

# Seconds that an idle pooled connection may stay open before it is closed
# instead of reused.
KEEPALIVE_SECONDS = 5.0

Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Methods whose requests state their body's length even when it is empty.
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class Http1Transport(httpx.AsyncBaseTransport):
    """Send httpx requests over at most ``max_connections`` keep-alive connections.

    A request that finds every connection busy waits for one, up to the
    ``pool`` timeout. A request on a reused connection that the server
    closed without sending a response, usually because its idle timeout
    ended, is sent once more on a new connection, whatever its method. The
    server may have processed it before closing, so the transport suits only
    requests that are safe to repeat, as the inventory POST is: it sets an
    absolute quantity. ``ssl_context`` verifies https servers and defaults
    to the system's trusted certificates.
    """

    def __init__(
        self,
        max_connections: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
    ) -> None:
        if max_connections < 1:
            raise ValueError(
                f"max_connections must be at least 1, not {max_connections}"
            )
        self._max_connections = max_connections
        self._ssl_context = ssl_context
        self._keepalive_seconds = keepalive_seconds
        self._idle: dict[Origin, collections.deque[Http1Connection]] = {}
        self._open = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        scheme = url.scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(
                f"unsupported URL scheme {scheme!r} in {url}; use http or https",
                request=request,
            )
        origin = (scheme, url.host, url.port or _DEFAULT_PORTS[scheme])
        timeouts = request.extensions.get("timeout", {})
        outgoing = await _encode_request(request)

        try:
            status, headers, content = await self._exchange(origin, outgoing, timeouts)
        except httpx.TransportError as error:
            error.request = request
            raise
        return httpx.Response(
            status,
            headers=headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def _exchange(
        self, origin: Origin, outgoing: _Outgoing, timeouts: dict[str, float | None]
    ) -> RawResponse:
        """Send on a pooled connection, once more on a new one if a reused one was closed unseen."""
        connection = await self._acquire(origin, timeouts)
        reused = connection.requests_sent > 0
        try:
            return await self._send_on(origin, connection, outgoing, timeouts)
        except ClosedBeforeResponse:
            if not reused:
                raise

        connection = await self._connect(origin, timeouts.get("connect"))
        return await self._send_on(origin, connection, outgoing, timeouts)

    async def _send_on(
        self,
        origin: Origin,
        connection: Http1Connection,
        outgoing: _Outgoing,
        timeouts: dict[str, float | None],
    ) -> RawResponse:
        try:
            response = await connection.exchange(
                outgoing.head, outgoing.body, timeouts.get("read"), outgoing.expect_body
            )
        except BaseException:
            # Failed or cancelled midway: the connection's state is unknown.
            self._discard(connection)
            raise

        if outgoing.close_after:
            connection.keep_alive = False
        self._release(origin, connection)
        return response

    async def _acquire(
        self, origin: Origin, timeouts: dict[str, float | None]
    ) -> Http1Connection:
        """Return an idle connection to ``origin``, or a new one while under the cap."""
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise RuntimeError("the transport is closed")
            idle = self._idle.get(origin)
            now = loop.time()
            while idle:
                # The most recently used connection is the least likely to
                # have been closed by the server.
                connection = idle.pop()
                if (
                    connection.reusable
                    and now - connection.idle_since < self._keepalive_seconds
                ):
                    return connection
                self._discard(connection)
            if self._open < self._max_connections or self._close_one_idle():
                return await self._connect(origin, timeouts.get("connect"))
            await self._wait_for_release(loop, timeouts.get("pool"))

    async def _connect(self, origin: Origin, timeout: float | None) -> Http1Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        context = self._tls_context() if scheme == "https" else None
        self._open += 1
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: Http1Connection(loop),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                )
        except TimeoutError as error:
            # The connect timeout ran out, or the kernel's own connect
            # timeout did (ETIMEDOUT is a TimeoutError too).
            self._forget_one()
            raise httpx.ConnectTimeout(
                f"connecting to {host}:{port} timed out{_after(timeout)}"
            ) from error
        except OSError as error:
            # ssl.SSLError, a failed certificate check included, is an OSError.
            self._forget_one()
            raise httpx.ConnectError(
                f"could not connect to {host}:{port}: {error}"
            ) from error
        except BaseException:
            self._forget_one()
            raise
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    async def _wait_for_release(
        self, loop: asyncio.AbstractEventLoop, timeout: float | None
    ) -> None:
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                # Woken but leaving anyway: pass the free connection on.
                self._wake_one()
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            if isinstance(error, TimeoutError):
                raise httpx.PoolTimeout(
                    f"no connection became free{_after(timeout)}"
                ) from error
            raise

    def _release(self, origin: Origin, connection: Http1Connection) -> None:
        if self._closed or not connection.reusable:
            self._discard(connection)
            return
        connection.idle_since = asyncio.get_running_loop().time()
        self._idle.setdefault(origin, collections.deque()).append(connection)
        self._wake_one()

    def _discard(self, connection: Http1Connection) -> None:
        connection.close()
        self._forget_one()

    def _forget_one(self) -> None:
        self._open -= 1
        self._wake_one()

    def _close_one_idle(self) -> bool:
        """Close an idle connection to any origin to make room under the cap."""
        for connections in self._idle.values():
            if connections:
                self._discard(connections.popleft())
                return True
        return False

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _after(timeout: float | None) -> str:
    return "" if timeout is None else f" after {timeout:g} s"


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """A request encoded as HTTP/1.1 bytes."""

    # The request line and the headers, up to the blank line.
    head: bytes
    # The body with its framing.
    body: bytes
    # False for HEAD, whose response has no body.
    expect_body: bool
    # The request's Connection header requests closing the connection after it.
    close_after: bool


async def _encode_request(request: httpx.Request) -> _Outgoing:
    """Encode the request line, the headers and the body with its framing."""
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()

    url = request.url
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), url.raw_path)]
    has_host = has_length = chunked = close_after = False
    for name, value in request.headers.raw:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
            raise httpx.LocalProtocolError(
                f"header {name.decode(errors='replace')!r} contains a line break, which HTTP/1.1 does not allow",
                request=request,
            )
        lowered = name.lower()
        if lowered == b"host":
            has_host = True
        elif lowered == b"content-length":
            has_length = True
        elif lowered == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif lowered == b"connection":
            close_after = b"close" in value.lower()
        lines.append(b"%s: %s\r\n" % (name, value))
    if not has_host:
        lines.insert(1, b"Host: %s\r\n" % url.netloc)
    if not (has_length or chunked) and (body or request.method in _METHODS_WITH_BODY):
        lines.append(b"Content-Length: %d\r\n" % len(body))
    lines.append(b"\r\n")

    if chunked:
        # The whole body is in memory, so it goes as one chunk and the last.
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    return _Outgoing(b"".join(lines), body, request.method != "HEAD", close_after)
