"""The typed context of a GraphQL operation."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from resolvers.loaders import Loaders
from resolvers.principal import Principal
from resolvers.request_db import RequestDatabase


@dataclass
class Context:
    """What every resolver may use: who asks, in which district, through which database handle,
    and the operation's loaders (created per request, never shared)."""

    request: Request | WebSocket
    response: Response | None
    principal: Principal
    district_id: int | None
    db: RequestDatabase
    loaders: Loaders


Info = strawberry.Info[Context, None]
