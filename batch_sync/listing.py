"""Read inventory records back from e-CROSS with ``GET /ext/inventories``, page by page.

Like ``batch_sync.client``, this module is a boundary: httpx exceptions and
HTTP statuses become the kinds in ``batch_sync.errors`` here, and callers see
only InventoryRecord pages or those kinds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import structlog

from batch_sync.client import TRANSIENT_STATUSES, ClientSettings, excerpt
from batch_sync.errors import ApiUnavailable, CredentialsRejected, TransientError
from schemas.api import (
    INVENTORY_LIST_PATH,
    LAST_UPDATE_FROM,
    PAGE_SIZE,
    PAGE_TOKEN,
    InventoryPage,
    parse_inventory_page,
)

log = structlog.get_logger(__name__)

DEFAULT_PAGE_SIZE = 100
# Attempts per page when the API times out or responds with 429 or 5xx.
MAX_PAGE_ATTEMPTS = 4
RETRY_DELAY_SECONDS = 0.5
# Stops a listing whose next-page tokens never run out.
MAX_PAGES = 100_000


class InventoryLister:
    """List the merchant's inventory records over one httpx.Client."""

    def __init__(
        self,
        settings: ClientSettings,
        token: str,
        page_size: int = DEFAULT_PAGE_SIZE,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._page_size = page_size
        self._http = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            transport=transport,
        )

    def __enter__(self) -> InventoryLister:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def records(self, updated_from: str | None = None) -> Iterator[InventoryPage]:
        """Yield every page of records, following nextPageToken until there is none.

        ``updated_from`` (ISO 8601) keeps only records updated at or after it.
        Raises CredentialsRejected on 401 and ApiUnavailable when a page
        cannot be read after MAX_PAGE_ATTEMPTS attempts or has an unexpected body.
        """
        token: str | None = None
        for number in range(1, MAX_PAGES + 1):
            params = {PAGE_SIZE: str(self._page_size)}
            if updated_from:
                params[LAST_UPDATE_FROM] = updated_from
            if token:
                params[PAGE_TOKEN] = token
            page = self._get_page(params, number)
            yield page
            token = page.next_page_token
            if not token:
                return
        raise ApiUnavailable(f"the record listing did not end after {MAX_PAGES} pages")

    def _get_page(self, params: dict[str, str], number: int) -> InventoryPage:
        for attempt in range(1, MAX_PAGE_ATTEMPTS + 1):
            try:
                return self._request_page(params)
            except TransientError as error:
                if attempt == MAX_PAGE_ATTEMPTS:
                    raise ApiUnavailable(
                        f"reading page {number} of the record listing failed "
                        f"{attempt} times (last error: {error})"
                    ) from error
                wait = RETRY_DELAY_SECONDS * 2 ** (attempt - 1)
                log.info("verify.retry", page=number, attempt=attempt, wait=wait, cause=str(error))
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request_page(self, params: dict[str, str]) -> InventoryPage:
        try:
            response = self._http.get(INVENTORY_LIST_PATH, params=params)
        except httpx.TimeoutException as error:
            raise TransientError(f"timed out: {type(error).__name__}") from error
        except httpx.TransportError as error:
            raise TransientError(f"connection failed: {error or type(error).__name__}") from error

        status = response.status_code
        if status == 401:
            raise CredentialsRejected(f"the API rejected the token (HTTP 401): {excerpt(response.text)}")
        if status in TRANSIENT_STATUSES:
            raise TransientError(f"HTTP {status}: {excerpt(response.text)}", http_status=status)
        if not response.is_success:
            raise ApiUnavailable(f"the record listing failed with HTTP {status}: {excerpt(response.text)}")
        try:
            return parse_inventory_page(response.json())
        except ValueError as error:
            raise ApiUnavailable(
                f"the record listing returned an unexpected body ({error}): {excerpt(response.text)}"
            ) from error
