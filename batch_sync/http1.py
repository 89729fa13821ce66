"""One HTTP/1.1 client connection: an asyncio protocol that parses responses with httptools.

A connection carries one request at a time. It raises httpx exceptions only,
so that ``batch_sync.transport`` can pass them on unchanged.
"""

from __future__ import annotations

import asyncio

import httptools
import httpx

# A response's status, raw headers and whole body.
RawResponse = tuple[int, list[tuple[bytes, bytes]], bytes]


class ClosedBeforeResponse(httpx.NetworkError):
    """The server closed the connection before sending any byte of the response."""


class Http1Connection(asyncio.Protocol):
    """A keep-alive connection that sends one request and collects its response.

    ``exchange`` writes a request and returns the status, the raw headers and
    the whole body. httptools (llhttp) handles Content-Length and chunked
    bodies. A body without either ends when the server closes the connection.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.requests_sent = 0
        # Loop time when the connection was last returned to the pool.
        self.idle_since = 0.0

        # The response in progress; ``_waiter`` is None between requests.
        self._waiter: asyncio.Future[RawResponse] | None = None
        self._data_seen = False
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._headers_complete = False
        self._framed = False
        self._expect_body = True
        self.keep_alive = False

        # The read timeout of the request in progress, and the loop time of
        # the last data received.
        self._read_timeout: float | None = None
        self._data_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def reusable(self) -> bool:
        """Whether another request may be sent on this connection."""
        return self.keep_alive and not self.closed and self._waiter is None

    async def exchange(
        self,
        head: bytes,
        body: bytes,
        read_timeout: float | None,
        expect_body: bool = True,
    ) -> RawResponse:
        """Send one request and return the response's status, raw headers and body.

        ``read_timeout`` bounds each wait for response data, as httpx's read
        timeout does. Raises httpx.ReadTimeout, httpx.ReadError,
        httpx.RemoteProtocolError, or ClosedBeforeResponse when the server
        closed the connection without sending a response.
        """
        if self.closed or self._transport is None:
            raise ClosedBeforeResponse(
                "the server closed the connection before the request was sent"
            )

        self._data_seen = False
        self._status = 0
        self._headers = []
        self._body = []
        self._headers_complete = False
        self._framed = False
        self._expect_body = expect_body
        self.keep_alive = False
        waiter: asyncio.Future[RawResponse] = self._loop.create_future()
        self._waiter = waiter

        self._transport.write(head + body)
        self.requests_sent += 1
        self._start_read_timer(read_timeout)

        try:
            return await waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            # Bytes while no request is waiting: the connection's state is unknown.
            self.close()
            return
        self._data_seen = True
        self._data_at = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(
                httpx.RemoteProtocolError(
                    "the server switched protocols, which this client does not support"
                )
            )
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"invalid HTTP response: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._headers_complete and not self._framed and self._expect_body:
            # The body of a response with neither Content-Length nor chunked
            # encoding ends with the connection.
            self.keep_alive = False
            self._finish()
        elif not self._data_seen:
            self._waiter.set_exception(
                ClosedBeforeResponse(_closed_message("before sending a response", exc))
            )
        else:
            self._waiter.set_exception(
                httpx.ReadError(
                    _closed_message("before the response was complete", exc)
                )
            )

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._waiter is None or self._waiter.done():
            # A second response in the same data as the first, which no
            # request is waiting for, so the connection's state is unknown.
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"content-length" or (
            lowered == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._framed = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            # An informational response such as 100 Continue: the final one follows.
            self._headers = []
            self._framed = False
            return
        self._status = status
        self._headers_complete = True
        if status in (204, 304):
            self._framed = True
        if not self._expect_body:
            # A response to HEAD has no body, whatever its Content-Length
            # header states, and httptools has no setting for that. So the
            # connection is closed after it instead of parsing on.
            self.keep_alive = False
            self._finish()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._headers_complete:
            return
        self.keep_alive = self._parser.should_keep_alive()
        self._finish()

    def _finish(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((self._status, self._headers, b"".join(self._body)))
            # Callbacks for any bytes after the response must not change it.
            self._headers = []
            self._body = []

    def _fail(self, error: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.close()

    def _start_read_timer(self, timeout: float | None) -> None:
        # One timer serves many requests: it is re-armed from the last data
        # received when it fires, and lapses when the connection is idle,
        # which costs less than a timer per request.
        self._read_timeout = timeout
        if timeout is None:
            return
        self._data_at = self._loop.time()
        deadline = self._data_at + timeout
        if self._timer is not None and self._timer.when() > deadline:
            self._timer.cancel()
            self._timer = None
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._check_read_timeout)

    def _check_read_timeout(self) -> None:
        self._timer = None
        timeout = self._read_timeout
        if self._waiter is None or timeout is None:
            return
        waited = self._loop.time() - self._data_at
        if waited < timeout:
            self._timer = self._loop.call_at(
                self._data_at + timeout, self._check_read_timeout
            )
            return
        self._fail(httpx.ReadTimeout(f"no response data for {timeout:g} s"))


def _closed_message(when: str, exc: Exception | None) -> str:
    message = f"the server closed the connection {when}"
    return f"{message} ({exc})" if exc is not None else message
