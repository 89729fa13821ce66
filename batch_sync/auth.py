"""Bearer tokens for the e-CROSS API: a fixed token, or one obtained with client credentials.

e-CROSS exchanges a client id and secret at ``POST {auth_url}/token`` for a
bearer token that lasts ``expiresIn`` seconds (8 hours), and requests that clients
reuse a token rather than fetch one per call. ``ClientCredentialsToken``
keeps one token per run, renews it shortly before it expires, and renews it
once more when the API responds with 401.

Each token carries a generation number. A worker that sees a 401 passes the
generation it sent, so many workers that see the same rejected token cause
one renewal, not one each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import httpx
import structlog

from batch_sync.errors import CredentialsRejected, TransientError

log = structlog.get_logger(__name__)

DEFAULT_AUTH_URL = "https://auth.api.e-cross.tech"
TOKEN_PATH = "/token"

# A token is renewed this long before it expires: a few minutes for the
# usual 8-hour token, a tenth of the lifetime for short test tokens.
MAX_RENEWAL_MARGIN = 300.0
RENEWAL_MARGIN_SHARE = 0.1


class TokenSource(Protocol):
    """Source of the bearer token that the uploader sends with each request."""

    async def bearer(self) -> tuple[int, str]:
        """Return the current token's generation and the token."""
        ...

    async def renew(self, rejected_generation: int) -> bool:
        """Replace the token after a 401; return False if renewing cannot help."""
        ...

    def accepted(self, generation: int) -> None:
        """Note that the API accepted the token of ``generation``."""
        ...

    async def aclose(self) -> None: ...


class StaticToken:
    """A fixed bearer token from the environment; it cannot be renewed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken('***')"

    async def bearer(self) -> tuple[int, str]:
        return 0, self._token

    async def renew(self, rejected_generation: int) -> bool:
        return False

    def accepted(self, generation: int) -> None:
        pass

    async def aclose(self) -> None:
        pass


class ClientCredentialsToken:
    """A token obtained with a client id and secret, renewed before expiry and after a 401."""

    def __init__(
        self,
        auth_url: str,
        client_id: str,
        client_secret: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_url = auth_url.rstrip("/") + TOKEN_PATH
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0), transport=transport)
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._generation = 0
        self._renew_at = 0.0
        # The generation fetched because the API rejected the one before it,
        # until a request succeeds with it; None otherwise.
        self._unproven_generation: int | None = None
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return f"ClientCredentialsToken(url={self._token_url!r}, client_id={self._client_id!r}, secret='***')"

    async def bearer(self) -> tuple[int, str]:
        if self._token is None or self._clock() >= self._renew_at:
            async with self._lock:
                if self._token is None or self._clock() >= self._renew_at:
                    await self._fetch(reason="expiring" if self._token else "first")
        assert self._token is not None
        return self._generation, self._token

    async def renew(self, rejected_generation: int) -> bool:
        async with self._lock:
            if rejected_generation < self._generation:
                return True
            if self._unproven_generation == self._generation:
                return False
            await self._fetch(reason="rejected")
            self._unproven_generation = self._generation
            return True

    def accepted(self, generation: int) -> None:
        if self._unproven_generation is not None and generation >= self._unproven_generation:
            self._unproven_generation = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _fetch(self, reason: str) -> None:
        body = {"clientId": self._client_id, "clientSecret": self._client_secret}
        try:
            response = await self._http.post(self._token_url, json=body)
        except httpx.TransportError as error:
            raise TransientError(
                f"token request to {self._token_url} failed: {error or type(error).__name__}"
            ) from error

        if response.status_code in (400, 401, 403):
            raise CredentialsRejected(
                f"the auth server at {self._token_url} rejected ECROSS_CLIENT_ID and "
                f"ECROSS_CLIENT_SECRET (HTTP {response.status_code}); check both values"
            )
        if not response.is_success:
            raise TransientError(
                f"token request to {self._token_url} failed with HTTP {response.status_code}",
                http_status=response.status_code,
            )
        try:
            document = response.json()
            token = document["token"]
            expires_in = float(document["expiresIn"])
        except (ValueError, KeyError, TypeError) as error:
            raise CredentialsRejected(
                f"the auth server at {self._token_url} returned no token and expiresIn ({error}); check --auth-url"
            ) from error
        if not isinstance(token, str) or not token:
            raise CredentialsRejected(f"the auth server at {self._token_url} returned an empty token")

        margin = min(MAX_RENEWAL_MARGIN, expires_in * RENEWAL_MARGIN_SHARE)
        self._token = token
        self._generation += 1
        self._renew_at = self._clock() + expires_in - margin
        self.tokens_fetched += 1
        log.info(
            "auth.token_fetched",
            reason=reason,
            generation=self._generation,
            expires_in=expires_in,
        )
