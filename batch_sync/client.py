"""The e-CROSS API client: the one place where httpx errors become batch_sync errors.

Everything downstream sees an InventoryRecord or one of the kinds in
``batch_sync.errors``; nothing else imports httpx exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from batch_sync.errors import CredentialsRejected, RowRejected, TransientError
from schemas.api import INVENTORIES_PATH, InventoryRecord, InventoryRequest, parse_inventory_record
from schemas.report import MAX_ERROR_EXCERPT

DEFAULT_BASE_URL = "https://product.api.e-cross.tech"

# Statuses worth sending again: the server is busy or briefly broken.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ClientSettings:
    """Connection settings of one run; ``repr`` never shows the token."""

    base_url: str
    token: str
    concurrency: int
    connect_timeout: float = 10.0
    read_timeout: float = 30.0

    def __repr__(self) -> str:
        return (
            f"ClientSettings(base_url={self.base_url!r}, token='***', "
            f"concurrency={self.concurrency})"
        )


def excerpt(text: str, limit: int = MAX_ERROR_EXCERPT) -> str:
    """Return the start of a response body on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class EcrossClient:
    """Send inventory updates over one pooled httpx.AsyncClient."""

    def __init__(self, settings: ClientSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {settings.token}"},
            timeout=httpx.Timeout(
                settings.read_timeout,
                connect=settings.connect_timeout,
                pool=None,
            ),
            limits=httpx.Limits(
                max_connections=settings.concurrency,
                max_keepalive_connections=settings.concurrency,
            ),
            transport=transport,
        )

    async def __aenter__(self) -> EcrossClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post_inventory(self, body: InventoryRequest) -> tuple[int, InventoryRecord]:
        """Send one row and return the HTTP status and the stored record.

        Raises CredentialsRejected on 401, TransientError when sending again may
        help, and RowRejected for every other answer that is not a stored record.
        """
        try:
            response = await self._http.post(INVENTORIES_PATH, json=body)
        except httpx.TimeoutException as error:
            raise TransientError(f"timed out: {type(error).__name__}") from error
        except httpx.TransportError as error:
            raise TransientError(f"connection failed: {error or type(error).__name__}") from error

        status = response.status_code
        if status == 401:
            raise CredentialsRejected(
                f"the API rejected the token (HTTP 401): {excerpt(response.text)}"
            )
        if status in TRANSIENT_STATUSES:
            raise TransientError(
                f"HTTP {status}: {excerpt(response.text)}",
                http_status=status,
                retry_after=_retry_after_seconds(response),
            )
        if not response.is_success:
            raise RowRejected(f"HTTP {status}: {excerpt(response.text)}", http_status=status)

        try:
            record = parse_inventory_record(response.json())
        except ValueError as error:
            raise RowRejected(
                f"HTTP {status} with an unexpected body ({error}): {excerpt(response.text)}",
                http_status=status,
            ) from error
        return status, record
