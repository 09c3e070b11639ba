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
    # A subscription fell more events behind than its queue holds (GONGZHI_SUBSCRIBER_QUEUE_SIZE)
    # and ended: subscribe again with `after:` the cursor its message names.
    SUBSCRIBER_TOO_SLOW = "SUBSCRIBER_TOO_SLOW"
    # The document is not GraphQL (a syntax error), or not valid against the schema (an
    # unknown field, a missing argument, a limit of depth, aliases or tokens).
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    # A variable's or argument's value is not of its type (e.g. a string for an Int).
    BAD_USER_INPUT = "BAD_USER_INPUT"
    # No token, or one that is not good (expired, badly signed, of an unknown district).
    UNAUTHENTICATED = "UNAUTHENTICATED"
    # The request itself cannot be read: not JSON, not UTF-8, no query, a bad X-District.
    BAD_REQUEST = "BAD_REQUEST"
    # HTTP: no such path; a method the path does not take; an Accept the server cannot
    # answer; a Content-Type it cannot read.
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    # Persisted documents: a hash or `documentId` this server does not know (send the
    # document); a document that is not registered, on a server that runs only those.
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    DOCUMENT_NOT_REGISTERED = "DOCUMENT_NOT_REGISTERED"
    # A fault of the server, logged there; the message says nothing more.
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# The code of an error answered with an HTTP status before any GraphQL execution.
HTTP_STATUS_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    406: ErrorCode.NOT_ACCEPTABLE,
    413: ErrorCode.BODY_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
    500: ErrorCode.INTERNAL_SERVER_ERROR,
    503: ErrorCode.DATABASE_UNAVAILABLE,
}


def http_status_code(status: int) -> ErrorCode:
    return HTTP_STATUS_CODES.get(
        status, ErrorCode.BAD_REQUEST if status < 500 else ErrorCode.INTERNAL_SERVER_ERROR
    )
