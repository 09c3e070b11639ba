"""Expected failures of mutations, raised by their services and turned into payload members.

The case workflow raises them, and so do notices, deadline policies and the input validators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from db.models.enums import CaseStatus

if TYPE_CHECKING:
    from resolvers.workflow.transitions import Action


class WorkflowError(Exception):
    """An expected refusal: nothing was changed."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(WorkflowError):
    pass


class ForbiddenError(WorkflowError):
    pass


class InvalidTransitionError(WorkflowError):
    def __init__(self, status: CaseStatus, action: Action, allowed: list[Action]) -> None:
        names = ", ".join(a.value for a in allowed) or "none"
        super().__init__(
            f"cannot {action.value} a case that is {status.value}; allowed now: {names}"
        )
        self.status = status
        self.allowed = allowed


class VersionConflictError(WorkflowError):
    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"the case changed since you read it (version {expected}, now {current}); "
            "reload it and try again",
            field="expectedVersion",
        )
        self.current = current


class ValidationError(WorkflowError):
    pass
