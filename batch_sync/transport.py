"""An httpx transport that sends requests over one aiohttp session.

With 64 concurrent requests, httpx.AsyncClient over its default httpcore
pool reached about a tenth of the rate that the server allowed, so the
client sends ``httpx.Request`` objects straight to this transport. Unlike the httpx-aiohttp package, it reads each
body in full before it returns, so the response carries plain content and
no async stream, which costs less per request. docs/benchmarks.md has the
measurements. The transport raises httpx exceptions only, as every httpx
transport does; ``batch_sync.client`` turns them into batch_sync errors.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx

# Seconds that an idle pooled connection stays open.
KEEPALIVE_SECONDS = 5.0


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests with aiohttp, keeping at most ``max_connections`` open.

    The ``timeout`` request extension is enforced: ``connect`` bounds
    opening a connection and ``read`` bounds each wait for response data.
    ``pool`` and ``write`` are ignored.
    """

    def __init__(self, max_connections: int) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open_session()
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=request.headers,
                data=request.content or None,
                allow_redirects=False,
                timeout=self._client_timeout(request),
            ) as response:
                content = await response.read()
        except aiohttp.ClientConnectorError as error:
            raise httpx.ConnectError(str(error), request=request) from error
        except aiohttp.ConnectionTimeoutError as error:
            raise httpx.ConnectTimeout(str(error), request=request) from error
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as error:
            raise httpx.ReadTimeout(str(error) or "timed out waiting for response data", request=request) from error
        except aiohttp.ClientPayloadError as error:
            raise httpx.ReadError(str(error), request=request) from error
        except aiohttp.ClientError as error:
            raise httpx.NetworkError(str(error) or type(error).__name__, request=request) from error

        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            content=content,
            request=request,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open_session(self) -> aiohttp.ClientSession:
        # The session is opened on first use because aiohttp binds it to the
        # running event loop. httpx.Response decodes a compressed body, so
        # aiohttp must leave it as received.
        connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=KEEPALIVE_SECONDS)
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    def _client_timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        settings = request.extensions.get("timeout", {})
        key = (settings.get("connect"), settings.get("read"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=key[0], sock_read=key[1])
            self._timeouts[key] = timeout
        return timeout
