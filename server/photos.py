"""`/photos/{id}`: the bytes of a case photo, for whoever may see its case.

The request gets the same context as a GraphQL request (authentication, rate limit, district)
and reads through its loaders, so the photo is visible exactly when its case is
(`core.visibility`). Errors are GraphQL-shaped JSON, as on `/graphql`:
`{"errors": [{"message": …, "extensions": {"code": …}}]}`.
"""

from __future__ import annotations

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import ids
from core.error_codes import ErrorCode, http_status_code
from core.user_errors import UserError
from db.connectivity import UNAVAILABLE_MESSAGE, DatabaseUnavailable, is_unavailable
from server.context import Refused, Services, build_context
from server.negotiation import choose_media_type
from server.request_limits import error_response


def route(services: Services) -> Route:
    """The `/photos/{id}` route of an app."""

    async def photo(request: Request) -> Response:
        return await serve_photo(services, request)

    return Route("/photos/{id}", photo)


async def serve_photo(services: Services, request: Request) -> Response:
    """The bytes of a case photo, for whoever may see its case."""
    try:
        # As for /graphql: an Accept header that allows no JSON answer is refused (406).
        choose_media_type(request)
        context = await build_context(services, request)
    except HTTPException as exc:
        return _error(exc.status_code, exc.reason)
    except Refused as exc:
        return _error(exc.status, exc.message)
    except DatabaseUnavailable:
        return _unavailable()
    if context.principal.is_anonymous or context.district_id is None:
        return _error(401, "send your token in the Authorization header")
    try:
        photo_id = ids.decode_as(request.path_params["id"], "CasePhoto")
    except UserError as exc:
        return _error(404, str(exc))
    try:
        found = await context.loaders.photo_files.load(photo_id)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        return _unavailable()
    finally:
        await context.db.finish(commit=False)
    if found is None:
        return _error(404, "no such photo")
    return Response(
        found.data,
        media_type=found.content_type,
        headers={"Cache-Control": "private, max-age=3600"},
    )


def _error(status: int, message: str) -> Response:
    return error_response(status, message, http_status_code(status))


def _unavailable() -> Response:
    return error_response(
        503, UNAVAILABLE_MESSAGE, ErrorCode.DATABASE_UNAVAILABLE, {"Retry-After": "1"}
    )
