"""`GET /exports/{table}.{csv|xlsx}`: a league table or watch-list as a file.

A dashboard downloads it with `fetch` and the `Authorization` header, so no token ever sits
in a URL. The table is what the GraphQL API answers the same principal (the export runs the
same query through the schema, with the same context: authentication, scope, budget), laid out
with Chinese headers. CSV is UTF-8 with a byte-order mark, so Excel shows the Chinese text
intact; XLSX is written by XlsxWriter. Errors are GraphQL-shaped JSON with a code, as on
`/graphql`.

| table | query parameters |
|---|---|
| `assessment` | `month` (YYYY-MM), `level` (STREET, COMMUNITY, PARTNER), `minimumSample` |
| `watch-list` | `month`, `level`, `threshold`, `lowestShare`, `minimumSample` |
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import xlsxwriter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.schema import BaseSchema

from core.error_codes import ErrorCode, http_status_code
from db.connectivity import UNAVAILABLE_MESSAGE, DatabaseUnavailable
from resolvers.extensions import code_of
from server.context import Refused, Services, build_context
from server.request_limits import error_response

_RATE = "{ value numerator denominator }"
ASSESSMENT = f"""query Export($month: String!, $level: AssessmentLevel!, $minimumSample: Int) {{
  statistics {{ assessment(month: $month, level: $level, minimumSample: $minimumSample) {{
    month level entries {{ rank name cases score refusedReturns previousRank movement
      responseRate {_RATE} resolutionRate {_RATE} satisfactionRate {_RATE} }} }} }} }}"""
WATCH_LIST = """query Export($month: String!, $level: AssessmentLevel!, $threshold: Float,
    $lowestShare: Float! = 0.1, $minimumSample: Int) {
  statistics { watchList(month: $month, level: $level, threshold: $threshold,
                         lowestShare: $lowestShare, minimumSample: $minimumSample) {
    month level entries { rank name score reasons consecutiveMonths } } } }"""


def _number(value: Any, digits: int = 1) -> Any:
    return round(value, digits) if isinstance(value, float) else value


@dataclass(frozen=True)
class Table:
    """One exportable table: its query, how its arguments are read, its columns."""

    query: str
    field: str
    arguments: dict[str, Callable[[str], Any]]
    headers: list[str]
    row: Callable[[dict[str, Any]], list[Any]]


def _assessment_row(e: dict[str, Any]) -> list[Any]:
    rates = [e["responseRate"], e["resolutionRate"], e["satisfactionRate"]]
    values: list[Any] = [e["rank"], e["name"], e["cases"], _number(e["score"])]
    for rate in rates:
        values += [_number(rate["value"]), _number(rate["numerator"], 2), rate["denominator"]]
    return [*values, e["refusedReturns"], e["previousRank"], e["movement"]]


TABLES = {
    "assessment": Table(
        ASSESSMENT,
        "assessment",
        {"month": str, "level": str.upper, "minimumSample": int},
        [
            "排名",
            "名称",
            "案件数",
            "综合得分",
            "响应率(%)",
            "按时签收",
            "派单",
            "解决率(%)",
            "已解决",
            "有答复",
            "满意率(%)",
            "满意(加权)",
            "满意度答复",
            "被驳回退单",
            "上月排名",
            "名次变化",
        ],
        _assessment_row,
    ),
    "watch-list": Table(
        WATCH_LIST,
        "watchList",
        {
            "month": str,
            "level": str.upper,
            "threshold": float,
            "lowestShare": float,
            "minimumSample": int,
        },
        ["名称", "排名", "综合得分", "原因", "连续月数"],
        lambda e: [
            e["name"],
            e["rank"],
            _number(e["score"]),
            "、".join(e["reasons"]),
            e["consecutiveMonths"],
        ],
    ),
}


def route(services: Services, schema: BaseSchema) -> Route:
    """The `/exports/{table}.{format}` route of an app."""

    async def export(request: Request) -> Response:
        return await serve_export(services, schema, request)

    return Route("/exports/{name}", export)


async def serve_export(services: Services, schema: BaseSchema, request: Request) -> Response:
    name, _, kind = request.path_params["name"].rpartition(".")
    table = TABLES.get(name)
    if table is None or kind not in ("csv", "xlsx"):
        listed = ", ".join(f"{t}.csv, {t}.xlsx" for t in TABLES)
        return _error(404, f"no such export: exports are {listed}")
    try:
        variables = {
            key: read(request.query_params[key])
            for key, read in table.arguments.items()
            if key in request.query_params
        }
    except ValueError as exc:
        return error_response(
            400, f"a query parameter is not of its type: {exc}", ErrorCode.BAD_USER_INPUT
        )
    try:
        context = await build_context(services, request)
    except Refused as exc:
        return _error(exc.status, exc.message)
    except DatabaseUnavailable:
        return _unavailable()
    if context.principal.is_anonymous:
        return _error(401, "send your token in the Authorization header")
    try:
        result = await schema.execute(table.query, variables, context_value=context)
    finally:
        await context.db.finish(commit=False)
    if result.errors:
        error = result.errors[0]
        code = code_of(error)
        status = 503 if code is ErrorCode.DATABASE_UNAVAILABLE else 400
        if code is ErrorCode.PERMISSION_DENIED:
            status = 403
        return error_response(status, error.message, code)
    assert result.data is not None
    answer = result.data["statistics"][table.field]
    rows = [table.row(e) for e in answer["entries"]]
    filename = f"{name}-{answer['level'].lower()}-{answer['month']}.{kind}"
    body = _csv(table.headers, rows) if kind == "csv" else _xlsx(name, table.headers, rows)
    media = (
        "text/csv; charset=utf-8"
        if kind == "csv"
        else ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    )
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "private, no-store",
        },
    )


def _csv(headers: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    # A byte-order mark: Excel reads the file as UTF-8, Chinese text intact.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(name: str, headers: list[str], rows: list[list[Any]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet(name[:31])
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, headers, bold)
    for index, row in enumerate(rows, 1):
        sheet.write_row(index, 0, ["" if v is None else v for v in row])
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def _error(status: int, message: str) -> Response:
    return error_response(status, message, http_status_code(status))


def _unavailable() -> Response:
    return error_response(
        503, UNAVAILABLE_MESSAGE, ErrorCode.DATABASE_UNAVAILABLE, {"Retry-After": "1"}
    )
