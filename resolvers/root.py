"""The root Query of the API, assembled in one place, and the schema."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import strawberry
from sqlalchemy import select
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from core import ids
from core import relations as rel
from core.context import Info
from core.user_errors import UserError
from db.models import District as DistrictRow
from resolvers.execution import ExecutionContext, mark_plain_fields
from resolvers.extensions import MaskErrors, OperationRecorder, TransactionPerOperation
from resolvers.live.subscriptions import Subscription
from resolvers.notices import NoticeMutation
from resolvers.query_cost import DEFAULT_MAX_NODES, QueryCostLimiter
from resolvers.stats import query as stats
from resolvers.stats.assessment import AssessmentMutation
from resolvers.stats.query import Statistics
from resolvers.webhooks.mutations import WebhookMutation, WebhookQuery
from resolvers.workflow.mutations import CaseMutation, MeetingAndDeadlineMutation
from resolvers.workflow.policies import PolicyMutation
from resolvers.workflow.respond_mutations import RespondMutation
from schema.cases import Case, CaseFilterArg, CaseOrderArg, case_connection
from schema.committees import Committee, CommitteeMember  # noqa: F401 - Node types
from schema.node import NODE_TYPES, Connection, Node, connection_field, load_node
from schema.notices import Notice  # noqa: F401 - Node type
from schema.partners import Partner, Partnership  # noqa: F401 - Node types
from schema.people import Person, RoleBinding, Viewer  # noqa: F401 - Node types
from schema.places import District

MAX_NODES = 100
# Hostile documents are refused before any SQL runs. The deepest read a frontend needs
# (district → streets → communities → cases → events, with their `nodes`) is 10 deep.
MAX_DEPTH = 15
MAX_ALIASES = 30
MAX_TOKENS = 10_000


async def _node(info: Info, global_id: strawberry.ID) -> Node | None:
    type_name, db_id = ids.decode(global_id)
    if type_name not in NODE_TYPES:
        raise UserError(f"{global_id!r} is not the id of any type")
    if type_name == "District" and db_id != info.context.district_id:
        # Another district does not exist for you (`districts` lists codes and names only).
        return None
    return await load_node(info, type_name, db_id)  # type: ignore[no-any-return]


@strawberry.type(description="Entry points for reading.")
class Query(WebhookQuery):
    @strawberry.field(description="The signed-in principal: role, district, person and scope.")
    def viewer(self, info: Info) -> Viewer:
        p = info.context.principal
        return Viewer(
            anonymous=p.is_anonymous,
            role=p.role,
            district_code=p.district_code,
            district_id=info.context.district_id,
            person_id=p.person_id,
            street_id=p.street_id,
            community_id=p.community_id,
            partner_id=p.partner_id,
        )

    @strawberry.field(
        description=(
            "All districts of the deployment, ordered by code: their codes and names. What "
            "lies under a district other than yours is not yours to read (its lists are empty)."
        )
    )
    async def districts(self, info: Info) -> list[District]:
        rows = await info.context.db.execute(select(DistrictRow).order_by(DistrictRow.code))
        return [District.from_row(row) for row in rows.scalars()]

    @strawberry.field(
        description=(
            "Your district: the one your token is for (anonymous visitors: the one named by "
            "the `X-District` header). Null when there is none."
        )
    )
    async def district(self, info: Info) -> District | None:
        return await load_node(info, "District", info.context.district_id)  # type: ignore[no-any-return]

    @strawberry.field(
        description="Any object by its global id; null if it does not exist or you may not see it."
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _node(info, id)

    @strawberry.field(
        description=(
            f"Objects by global id, in the order asked (null where absent); at most {MAX_NODES}."
        )
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise UserError(f"`ids` takes at most {MAX_NODES} ids (got {len(ids)})")
        return list(await asyncio.gather(*(_node(info, global_id) for global_id in ids)))

    @connection_field(
        "Cases of your district you may see, newest first unless `orderBy` says; the same "
        "list as `district { cases }`."
    )
    def cases(
        self,
        info: Info,
        filter: CaseFilterArg = None,
        order_by: CaseOrderArg = None,
    ) -> Connection[Case]:
        return case_connection(rel.DISTRICT_CASES, info.context.district_id or 0, filter, order_by)

    @strawberry.field(
        description=(
            "Comparisons of communities, streets and partners of your district on how their "
            "cases go, for district administrators and (within their scope) street officers, "
            "community workers, committee members and partner staff."
        )
    )
    def statistics(self, info: Info) -> Statistics:
        return stats.statistics(info)

    @strawberry.field(
        description=(
            "The same comparisons across every district, and districts compared: platform "
            "operators only."
        )
    )
    def platform_statistics(self, info: Info) -> Statistics:
        return stats.platform_statistics(info)


@strawberry.type(description="Entry points for changing things.")
class Mutation(
    CaseMutation,
    RespondMutation,
    MeetingAndDeadlineMutation,
    NoticeMutation,
    PolicyMutation,
    AssessmentMutation,
    WebhookMutation,
):
    pass


_LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


def build_schema(
    *, production: bool = False, max_nodes: int = DEFAULT_MAX_NODES
) -> strawberry.Schema:
    """The schema; in production also without introspection and without "did you mean"
    suggestions, so the API does not describe itself to strangers.

    `build_schema()` is the development schema: what `gongzhi schema` prints and
    `schema.graphql` holds. Built once per process for each set of arguments (a built schema
    does not change), so every caller asking for the same one shares it.
    """
    return _build_schema(production, max_nodes)


@functools.cache
def _build_schema(production: bool, max_nodes: int) -> strawberry.Schema:
    extensions: list[Any] = [
        TransactionPerOperation,
        MaskErrors,
        # Tells the request log and metrics each operation's name (never its variables).
        OperationRecorder,
        # Parsed and validated documents are cached process-wide, keyed by the query text.
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        # The depth and alias rules are made once: the validation cache is keyed by the rules
        # too, and rules made anew per request (as the limiters' own factories would) never hit.
        lambda: AddValidationRules(_LIMIT_RULES),
        # After validation, with the variables: page sizes multiplied down the tree.
        lambda: QueryCostLimiter(max_nodes=max_nodes),
    ]
    if production:
        extensions.append(DisableIntrospection)
    built = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(NODE_TYPES.values()),
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
        execution_context_class=ExecutionContext,
    )
    mark_plain_fields(built._schema)
    return built
