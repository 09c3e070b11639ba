"""Every machine-readable error code the API sends, in one enum.

Payload errors of mutations carry one in `Error.code` (a `String!` in the contract, so new codes
never break a client); top-level errors carry one in `extensions.code`. A frontend switches on
these strings, so they never change once released.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    # Expected outcomes of a mutation (members of its payload union).
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    # Top-level errors (`extensions.code`).
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    RATE_LIMITED = "RATE_LIMITED"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    # The operation ran past its deadline (GONGZHI_REQUEST_TIMEOUT_SECONDS) and was cancelled.
    TIMEOUT = "TIMEOUT"
    # Too many operations at once (for this principal, or for the server): retry later.
    OVERLOADED = "OVERLOADED"
