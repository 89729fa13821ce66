"""The e-CROSS API client: the one place where httpx errors become batch_sync errors.

Everything downstream sees an InventoryRecord or one of the kinds in
``batch_sync.errors``; nothing else imports httpx exceptions.

Requests go straight to an httpx transport, by default
``batch_sync.transport.Http1Transport``, without httpx.AsyncClient. The
client's pool serialises under many concurrent requests (about 0.1 of the
C / L bound at 64 workers), and its per-request work (URL merging, cookies,
auth flow, event hooks) is work this client does not need.
docs/benchmarks.md has the measurements.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass

import httpx
import orjson

from batch_sync.errors import CredentialsRejected, RowRejected, TransientError
from batch_sync.transport import Http1Transport
from schemas.api import (
    INVENTORIES_PATH,
    InventoryRecord,
    InventoryRequest,
    parse_inventory_record,
)
from schemas.report import MAX_ERROR_EXCERPT

DEFAULT_BASE_URL = "https://product.api.e-cross.tech"

# Statuses worth sending again: the server is busy or briefly broken.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ClientSettings:
    """Connection settings of one run; the token comes from a TokenSource per request."""

    base_url: str
    concurrency: int
    connect_timeout: float = 10.0
    read_timeout: float = 30.0


def excerpt(text: str, limit: int = MAX_ERROR_EXCERPT) -> str:
    """Return the start of a response body on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Read a Retry-After header as seconds from now; None if absent or unreadable.

    RFC 9110 allows a number of seconds or an HTTP date; a date in the past
    means zero.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def api_message(response: httpx.Response) -> str:
    """Return the ``error`` or ``message`` of a JSON error body, else the body's start."""
    try:
        document = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return excerpt(response.text)
    if isinstance(document, dict):
        for key in ("error", "message"):
            if isinstance(document.get(key), str):
                return excerpt(document[key])
    return excerpt(response.text)


def _is_warehouse_refusal(response: httpx.Response) -> bool:
    # NOTE: the public contract does not say how a 403 for a warehouse the
    # merchant may not update differs from a 403 for the credentials. This
    # treats a 403 whose body names the warehouse as the row's final response.
    return "warehouse" in response.text.lower()


# Advice for ops staff on a final response, by HTTP status.
_ADVICE = {
    400: "; correct the row as the API's message says",
    403: "; the merchant may not update this warehouse, so check warehouseId or ask e-CROSS for access",
    404: "; check warehouseId: e-CROSS has no such warehouse for this merchant",
    409: "; another update of the same record was in progress, so run the file again",
    422: "; correct the row as the API's message says",
}


def _advice(status: int) -> str:
    return _ADVICE.get(status, "")


def default_transport(settings: ClientSettings) -> httpx.AsyncBaseTransport:
    """Build the HTTP/1.1 transport with one pooled connection per worker."""
    return Http1Transport(max_connections=settings.concurrency)


class EcrossClient:
    """Send inventory updates through one pooled httpx transport.

    The connect and read timeouts travel with each request as httpx's
    ``timeout`` request extension, which httpx's own transports and
    ``batch_sync.transport`` enforce. Waiting for a free connection has no
    timeout because the pool has one connection per worker.
    """

    def __init__(self, settings: ClientSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport or default_transport(settings)
        self._url = httpx.URL(settings.base_url.rstrip("/") + INVENTORIES_PATH)
        # Request headers of the last token used, without Content-Length.
        # The token changes only on renewal.
        self._headers: list[tuple[bytes, bytes]] = []
        self._headers_token = ""
        self._timeout = {
            "connect": settings.connect_timeout,
            "read": settings.read_timeout,
            "write": settings.read_timeout,
            "pool": None,
        }

    async def __aenter__(self) -> EcrossClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def post_inventory(
        self, body: InventoryRequest, token: str, generation: int = 0
    ) -> tuple[int, InventoryRecord]:
        """Send one row with ``token`` and return the HTTP status and the stored record.

        Raises CredentialsRejected (with ``generation``) on 401 and on a 403
        that is not about the warehouse, TransientError when sending again may
        help, and RowRejected for every other response that is not a stored
        record: 400 with the API's message, 403 for a warehouse the merchant
        may not update, 404 for an unknown warehouse.
        """
        request = self._inventory_request(body, token)
        response = await self._send(request)

        status = response.status_code
        if status == 401 or (status == 403 and not _is_warehouse_refusal(response)):
            raise CredentialsRejected(
                f"the API rejected the token (HTTP {status}): {excerpt(response.text)}; "
                "renew ECROSS_TOKEN (or check ECROSS_CLIENT_ID and ECROSS_CLIENT_SECRET) "
                "and run the same command again to send the remaining rows",
                generation=generation,
                http_status=status,
            )
        if status in TRANSIENT_STATUSES:
            raise TransientError(
                f"HTTP {status}: {excerpt(response.text)}",
                http_status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if not response.is_success:
            raise RowRejected(f"HTTP {status}: {api_message(response)}{_advice(status)}", http_status=status)

        try:
            record = parse_inventory_record(orjson.loads(response.content))
        except ValueError as error:
            # orjson.JSONDecodeError is a ValueError too.
            raise RowRejected(
                f"HTTP {status} with an unexpected body ({error}): {excerpt(response.text)}",
                http_status=status,
            ) from error
        return status, record

    def _inventory_request(self, body: InventoryRequest, token: str) -> httpx.Request:
        """Build the POST of one row.

        The request is built from a byte stream and complete headers, Host
        and Content-Length included. httpx.Request(content=...) works those
        headers out again for every row, which took about 10 us more per
        request (timeit, 2-core benchmark machine).
        """
        if token != self._headers_token:
            self._headers = [
                (b"Host", self._url.netloc),
                (b"Authorization", f"Bearer {token}".encode("ascii")),
                (b"Content-Type", b"application/json"),
            ]
            self._headers_token = token
        content = orjson.dumps(body)
        request = httpx.Request(
            "POST",
            self._url,
            headers=[*self._headers, (b"Content-Length", b"%d" % len(content))],
            stream=httpx.ByteStream(content),
            extensions={"timeout": self._timeout},
        )
        # Reading a ByteStream only joins its bytes, and it makes
        # request.content available.
        request.read()
        return request

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the whole body, releasing the connection either way."""
        try:
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException as error:
            raise TransientError(f"timed out: {type(error).__name__}") from error
        except httpx.TransportError as error:
            raise TransientError(f"connection failed: {error or type(error).__name__}") from error
        except httpx.DecodingError as error:
            # A body that does not match its Content-Encoding, for example a
            # broken gzip stream; a retry may get an intact one.
            raise TransientError(f"the response body could not be decoded: {error}") from error
        return response

