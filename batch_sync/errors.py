"""Exceptions of batch_sync, grouped by what the caller should do.

    BatchSyncError
    ├── InputError          the file, its columns or the configuration is unusable;
    │                       raised before anything is sent (exit status 2)
    ├── RunAborted          the API cannot take more requests; stop sending,
    │   │                   report the rest as not sent (exit status 3)
    │   ├── CredentialsRejected   the API or the auth server rejected our
    │   │                         credentials (401, or 403 not about a warehouse)
    │   └── ApiUnavailable        the API kept failing beyond the outage budget
    └── RowError            one row's request failed; becomes that row's result
        ├── RowRejected     the API answered with a final 4xx for the row
        └── TransientError  a timeout, connection error, 429 or 5xx; may be retried

The uploader's client module is the only place that turns httpx exceptions
and HTTP statuses into these kinds.
"""

from __future__ import annotations


class BatchSyncError(Exception):
    """Base class of every error that batch_sync raises on purpose."""


class InputError(BatchSyncError):
    """The input file, its columns or the configuration cannot be used."""


class RunAborted(BatchSyncError):
    """The API cannot take more requests in this run."""


class CredentialsRejected(RunAborted):
    """The API or the auth server rejected the credentials.

    ``generation`` numbers the token that was rejected, so the uploader can
    ask the token source for a newer one before giving up.
    """

    def __init__(
        self, message: str, generation: int | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.generation = generation
        self.http_status = http_status


class ApiUnavailable(RunAborted):
    """The API kept failing, so sending the rest of the file is pointless."""


class RowError(BatchSyncError):
    """One row's request failed."""

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class RowRejected(RowError):
    """The API gave the row a final answer other than success."""


class TransientError(RowError):
    """The request may succeed if sent again later."""

    def __init__(
        self,
        message: str,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, http_status)
        self.retry_after = retry_after
