"""Expected errors of mutations: members of their payload unions, each an `Error`."""

from __future__ import annotations

import strawberry

import schema.enums  # noqa: F401 - registers the domain's enums before any type uses them
from db.models.enums import CaseStatus


@strawberry.interface(
    description="An expected failure of a mutation; nothing was changed. Show `message`."
)
class Error:
    code: str = strawberry.field(description="Stable machine-readable code, e.g. NOT_FOUND.")
    message: str = strawberry.field(description="What was wrong, for people.")
    field: str | None = strawberry.field(
        description="The input field at fault (e.g. `title`, `lead.partner`), if one is."
    )


@strawberry.type(description="The object does not exist, or you may not see it.")
class NotFound(Error):
    pass


@strawberry.type(description="You may see the object but not do this to it.")
class PermissionDenied(Error):
    pass


@strawberry.type(description="The case's status does not allow this action now.")
class InvalidTransition(Error):
    current_status: CaseStatus = strawberry.field(description="The case's status now.")
    allowed_actions: list[str] = strawberry.field(
        description="Actions you may take on the case in this status."
    )


@strawberry.type(
    description="The case changed since you read it: reload it, then retry with its version."
)
class VersionConflict(Error):
    current_version: int = strawberry.field(description="The case's version now.")


@strawberry.type(description="An input value is not acceptable; `field` names it.")
class ValidationFailed(Error):
    pass
