"""The HTTP/1.1 transport against real servers on 127.0.0.1.

The sandbox checks the client end to end. Small asyncio servers written for
each test send what the sandbox never does: closed keep-alive connections,
chunked and close-delimited bodies, slow or broken responses, TLS.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trustme

from batch_sync.client import ClientSettings, EcrossClient
from batch_sync.errors import TransientError
from batch_sync.transport import Http1Transport
from schemas.api import inventory_request
from tests.conftest import TEST_TOKEN, free_port, start_sandbox

BODY = inventory_request("0614", 7, 1, "AVAILABLE")
TIMEOUTS = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}

Handler = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter, "ScriptedServer"], Awaitable[None]
]


async def post_once(
    settings: ClientSettings, token: str = TEST_TOKEN
) -> tuple[int, object]:
    async with EcrossClient(settings) as client:
        return await client.post_inventory(BODY, token)


def test_post_returns_stored_record(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path)
    try:
        status, record = asyncio.run(
            post_once(ClientSettings(base_url=sandbox.url, concurrency=2))
        )
    finally:
        sandbox.stop()

    assert status == 200
    assert record.sku_id == "0614"
    assert record.quantity == 7
    assert record.warehouse_id == 1


def test_read_timeout_enforced(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path, "--latency", "3")
    settings = ClientSettings(base_url=sandbox.url, concurrency=1, read_timeout=0.3)
    try:
        with pytest.raises(TransientError) as caught:
            asyncio.run(post_once(settings))
    finally:
        sandbox.stop()

    assert str(caught.value).startswith("timed out")
    assert caught.value.http_status is None


def test_refused_connection_is_transient() -> None:
    settings = ClientSettings(base_url=f"http://127.0.0.1:{free_port()}", concurrency=1)

    with pytest.raises(TransientError) as caught:
        asyncio.run(post_once(settings))

    assert str(caught.value).startswith("connection failed")


# Scripted servers


@dataclass
class ScriptedServer:
    """A loopback server that runs ``handler`` for each connection and counts what it saw."""

    url: str
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    open_now: int = 0
    max_open: int = 0


@asynccontextmanager
async def scripted_server(
    handler: Handler, tls: ssl.SSLContext | None = None
) -> AsyncIterator[ScriptedServer]:
    scheme = "https" if tls is not None else "http"
    state = ScriptedServer(url="")

    async def on_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        state.connections += 1
        state.open_now += 1
        state.max_open = max(state.max_open, state.open_now)
        try:
            await handler(reader, writer, state)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            state.open_now -= 1
            writer.close()
            with suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    state.url = f"{scheme}://127.0.0.1:{port}"
    async with server:
        yield state
        server.close()


async def read_request(reader: asyncio.StreamReader, state: ScriptedServer) -> bytes:
    """Read one request with a Content-Length or chunked body and return it whole."""
    head = await reader.readuntil(b"\r\n\r\n")
    lowered = head.lower()
    body = b""
    if b"transfer-encoding: chunked" in lowered:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    elif b"content-length:" in lowered:
        start = lowered.index(b"content-length:") + len(b"content-length:")
        length = int(lowered[start : lowered.index(b"\r\n", start)])
        body = await reader.readexactly(length)
    request = head + body
    state.requests.append(request)
    return request


def ok(body: bytes = b'{"ok":true}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


async def answer_every_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ScriptedServer
) -> None:
    while True:
        await read_request(reader, state)
        writer.write(ok())
        await writer.drain()


async def send(
    url: str,
    transport: Http1Transport,
    *,
    timeouts: dict[str, float] = TIMEOUTS,
    **request: object,
) -> httpx.Response:
    method = str(request.pop("method", "POST"))
    outgoing = httpx.Request(method, url, extensions={"timeout": timeouts}, **request)  # type: ignore[arg-type]
    return await transport.handle_async_request(outgoing)


def send_in_turn(
    handler: Handler, count: int, *, max_connections: int = 1, **request: object
) -> tuple[list[httpx.Response], ScriptedServer]:
    """Send ``count`` requests one after another over one transport to a scripted server."""

    async def main() -> tuple[list[httpx.Response], ScriptedServer]:
        async with scripted_server(handler) as server:
            transport = Http1Transport(max_connections=max_connections)
            responses = [await send(server.url, transport, **request) for _ in range(count)]
            await transport.aclose()
            return responses, server

    return asyncio.run(main())


def test_keep_alive_reuses_one_connection() -> None:
    responses, server = send_in_turn(answer_every_request, 5, max_connections=4, content=b"x")

    assert [response.status_code for response in responses] == [200] * 5
    assert server.connections == 1
    assert len(server.requests) == 5


def test_stale_connection_request_sent_again() -> None:
    # The first connection sends one response, then closes on reading the
    # second request, as a server does whose idle timeout ends as a request
    # arrives.
    async def answer_once_then_close(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        if state.connections > 1:
            await answer_every_request(reader, writer, state)
            return
        await read_request(reader, state)
        writer.write(ok(extra=b"Connection: keep-alive\r\n"))
        await writer.drain()
        await read_request(reader, state)

    async def main() -> tuple[httpx.Response, httpx.Response, ScriptedServer]:
        async with scripted_server(answer_once_then_close) as server:
            transport = Http1Transport(max_connections=1)
            first = await send(server.url, transport, content=b"first")
            second = await send(server.url, transport, content=b"second")
            await transport.aclose()
            return first, second, server

    first, second, server = asyncio.run(main())

    assert first.status_code == 200
    assert second.status_code == 200
    assert server.connections == 2
    assert [request.endswith(b"second") for request in server.requests] == [
        False,
        True,
        True,
    ]


def test_new_connection_closed_raises() -> None:
    async def close_after_reading(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        await read_request(reader, state)

    async def main() -> ScriptedServer:
        async with scripted_server(close_after_reading) as server:
            transport = Http1Transport(max_connections=1)
            with pytest.raises(httpx.NetworkError) as caught:
                await send(server.url, transport, content=b"x")
            await transport.aclose()
            assert "closed the connection before sending a response" in str(
                caught.value
            )
            assert caught.value.request.content == b"x"
            return server

    server = asyncio.run(main())

    assert server.connections == 1


def test_connection_close_answer_opens_new_connection() -> None:
    async def answer_and_close(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        await read_request(reader, state)
        writer.write(ok(extra=b"Connection: close\r\n"))
        await writer.drain()

    responses, server = send_in_turn(answer_and_close, 3, content=b"x")

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert server.connections == 3


def test_connection_close_request_not_reused() -> None:
    responses, server = send_in_turn(
        answer_every_request, 2, headers={"Connection": "close"}, content=b"x"
    )

    assert [response.status_code for response in responses] == [200, 200]
    assert server.connections == 2


def test_head_answer_has_no_body() -> None:
    async def answer_head(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        while True:
            await read_request(reader, state)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")
            await writer.drain()

    responses, _ = send_in_turn(answer_head, 2, method="HEAD")

    assert [response.status_code for response in responses] == [200, 200]
    assert [response.content for response in responses] == [b"", b""]
    assert responses[0].headers["Content-Length"] == "50"


def test_extra_response_closes_connection() -> None:
    async def answer_twice(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        while True:
            await read_request(reader, state)
            writer.write(ok(b"one") + ok(b"two"))
            await writer.drain()

    responses, server = send_in_turn(answer_twice, 2, content=b"x")

    assert [response.content for response in responses] == [b"one", b"one"]
    assert server.connections == 2


def test_chunked_answer_in_pieces() -> None:
    async def answer_chunked(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        while True:
            await read_request(reader, state)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (
                b"5\r\nhello\r\n",
                b"1",
                b"\r\n \r\n6\r\nworld!\r\n",
                b"0\r\n\r\n",
            ):
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.01)

    responses, server = send_in_turn(answer_chunked, 2, content=b"x")

    assert [response.content for response in responses] == [b"hello world!", b"hello world!"]
    assert server.connections == 1


def test_body_without_length_ends_at_close() -> None:
    async def answer_until_close(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        await read_request(reader, state)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of ")
        await writer.drain()
        writer.write(b"it")

    async def main() -> httpx.Response:
        async with scripted_server(answer_until_close) as server:
            transport = Http1Transport(max_connections=1)
            response = await send(server.url, transport, content=b"x")
            await transport.aclose()
            return response

    response = asyncio.run(main())

    assert response.status_code == 200
    assert response.content == b"all of it"


def test_informational_answer_is_skipped() -> None:
    async def answer_continue_first(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        await read_request(reader, state)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"final"))
        await writer.drain()

    async def main() -> httpx.Response:
        async with scripted_server(answer_continue_first) as server:
            transport = Http1Transport(max_connections=1)
            response = await send(server.url, transport, content=b"x")
            await transport.aclose()
            return response

    response = asyncio.run(main())

    assert response.status_code == 200
    assert response.content == b"final"


def test_read_timeout_counts_from_last_data() -> None:
    # Each piece arrives within the read timeout, the whole response after it.
    async def answer_slowly(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        await read_request(reader, state)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
        for piece in (b"s", b"l", b"o", b"w"):
            await writer.drain()
            await asyncio.sleep(0.15)
            writer.write(piece)
        await writer.drain()

    async def main() -> tuple[httpx.Response, float]:
        async with scripted_server(answer_slowly) as server:
            transport = Http1Transport(max_connections=1)
            started = asyncio.get_running_loop().time()
            response = await send(
                server.url, transport, timeouts={**TIMEOUTS, "read": 0.4}, content=b"x"
            )
            seconds = asyncio.get_running_loop().time() - started
            await transport.aclose()
            return response, seconds

    response, seconds = asyncio.run(main())

    assert response.content == b"slow"
    assert seconds > 0.4


def test_stalled_answer_raises_read_timeout() -> None:
    async def stall_after_head(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        await read_request(reader, state)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst")
        await writer.drain()
        await asyncio.sleep(5)

    async def main() -> None:
        async with scripted_server(stall_after_head) as server:
            transport = Http1Transport(max_connections=1)
            with pytest.raises(httpx.ReadTimeout):
                await send(
                    server.url,
                    transport,
                    timeouts={**TIMEOUTS, "read": 0.2},
                    content=b"x",
                )
            await transport.aclose()

    asyncio.run(main())


def test_truncated_body_raises_read_error() -> None:
    async def close_midway(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        await read_request(reader, state)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await writer.drain()

    async def main() -> None:
        async with scripted_server(close_midway) as server:
            transport = Http1Transport(max_connections=1)
            with pytest.raises(httpx.ReadError) as caught:
                await send(server.url, transport, content=b"x")
            await transport.aclose()
            assert "before the response was complete" in str(caught.value)

    asyncio.run(main())


def test_invalid_answer_raises_protocol_error() -> None:
    async def answer_garbage(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        await read_request(reader, state)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async def main() -> None:
        async with scripted_server(answer_garbage) as server:
            transport = Http1Transport(max_connections=1)
            with pytest.raises(httpx.RemoteProtocolError):
                await send(server.url, transport, content=b"x")
            await transport.aclose()

    asyncio.run(main())


def test_refused_connection_raises_connect_error() -> None:
    async def main() -> None:
        transport = Http1Transport(max_connections=1)
        with pytest.raises(httpx.ConnectError):
            await send(f"http://127.0.0.1:{free_port()}", transport, content=b"x")
        await transport.aclose()

    asyncio.run(main())


def test_full_accept_queue_raises_connect_timeout() -> None:
    # Linux drops connection attempts to a socket whose accept queue is
    # full, so connecting to it waits until the connect timeout.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.settimeout(0.2)
            try:
                filler.connect(listener.getsockname())
            except TimeoutError:
                filler.close()
                break
            fillers.append(filler)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"

        async def main() -> None:
            transport = Http1Transport(max_connections=1)
            with pytest.raises(httpx.ConnectTimeout):
                await send(
                    url, transport, timeouts={**TIMEOUTS, "connect": 0.3}, content=b"x"
                )
            await transport.aclose()

        asyncio.run(main())
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_connections_capped_at_maximum() -> None:
    async def answer_slowly(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        while True:
            await read_request(reader, state)
            await asyncio.sleep(0.05)
            writer.write(ok())
            await writer.drain()

    async def main() -> tuple[list[int], ScriptedServer]:
        async with scripted_server(answer_slowly) as server:
            transport = Http1Transport(max_connections=2)
            responses = await asyncio.gather(
                *(send(server.url, transport, content=b"x") for _ in range(8))
            )
            await transport.aclose()
            return [response.status_code for response in responses], server

    statuses, server = asyncio.run(main())

    assert statuses == [200] * 8
    assert server.max_open == 2
    assert len(server.requests) == 8


def test_busy_pool_raises_pool_timeout() -> None:
    async def stall(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        await read_request(reader, state)
        await asyncio.sleep(2)

    async def main() -> None:
        async with scripted_server(stall) as server:
            transport = Http1Transport(max_connections=1)
            blocking = asyncio.create_task(send(server.url, transport, content=b"x"))
            await asyncio.sleep(0.1)
            with pytest.raises(httpx.PoolTimeout):
                await send(
                    server.url,
                    transport,
                    timeouts={**TIMEOUTS, "pool": 0.1},
                    content=b"x",
                )
            blocking.cancel()
            await transport.aclose()

    asyncio.run(main())


def test_cancelled_request_frees_its_connection() -> None:
    async def stall_first(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: ScriptedServer,
    ) -> None:
        if state.connections == 1:
            await read_request(reader, state)
            await asyncio.sleep(2)
            return
        await answer_every_request(reader, writer, state)

    async def main() -> tuple[httpx.Response, ScriptedServer]:
        async with scripted_server(stall_first) as server:
            transport = Http1Transport(max_connections=1)
            stalled = asyncio.create_task(send(server.url, transport, content=b"x"))
            await asyncio.sleep(0.1)
            stalled.cancel()
            with suppress(asyncio.CancelledError):
                await stalled
            response = await send(
                server.url, transport, timeouts={**TIMEOUTS, "pool": 1.0}, content=b"x"
            )
            await transport.aclose()
            return response, server

    response, server = asyncio.run(main())

    assert response.status_code == 200
    assert server.connections == 2


def test_streamed_request_body_sent_chunked() -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"hello "
        yield b"world"

    async def main() -> ScriptedServer:
        async with scripted_server(answer_every_request) as server:
            transport = Http1Transport(max_connections=1)
            response = await send(server.url, transport, content=parts())
            await transport.aclose()
            assert response.status_code == 200
            return server

    server = asyncio.run(main())

    assert b"transfer-encoding: chunked" in server.requests[0].lower()
    assert server.requests[0].endswith(b"hello world")


def test_header_with_line_break_rejected() -> None:
    async def main() -> None:
        transport = Http1Transport(max_connections=1)
        with pytest.raises(httpx.LocalProtocolError):
            await send(
                "http://127.0.0.1:9",
                transport,
                headers={"X-Note": "a\r\nInjected: yes"},
                content=b"x",
            )
        await transport.aclose()

    asyncio.run(main())


def test_tls_server_verified_with_given_context() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    async def main() -> tuple[httpx.Response, ScriptedServer]:
        async with scripted_server(answer_every_request, tls=server_context) as server:
            transport = Http1Transport(max_connections=1, ssl_context=client_context)
            first = await send(server.url, transport, content=b"x")
            await send(server.url, transport, content=b"y")
            await transport.aclose()
            return first, server

    response, server = asyncio.run(main())

    assert server.url.startswith("https://")
    assert response.status_code == 200
    assert response.content == b'{"ok":true}'
    assert server.connections == 1


def test_tls_server_with_untrusted_certificate_rejected() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)

    async def main() -> None:
        async with scripted_server(answer_every_request, tls=server_context) as server:
            transport = Http1Transport(max_connections=1)
            with pytest.raises(httpx.ConnectError) as caught:
                await send(server.url, transport, content=b"x")
            await transport.aclose()
            assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)

    asyncio.run(main())
