"""`GET /exports/{table}.{csv|xlsx}`: a league table or watch-list as a file.

A dashboard downloads it with `fetch` and the `Authorization` header, so no token ever sits
in a URL. The table is what the GraphQL API answers the same principal (the export runs the
same query through the schema, with the same context: authentication, scope, budget), laid out
with Chinese headers. CSV is UTF-8 with a byte-order mark, so Excel shows the Chinese text
intact. Errors are GraphQL-shaped JSON with a code, as on
`/graphql`.

| table | query parameters |
|---|---|
| `assessment` | `month` (YYYY-MM), `level` (STREET, COMMUNITY, PARTNER), `minimumSample` |
| `watch-list` | `month`, `level`, `threshold`, `lowestShare`, `minimumSample` |
| `comparison` | `level`, `from`, `to` (with offset, `%2B08:00`), `orderBy`, `minimumSample` |

XLSX is written by openpyxl, which the tests also read it back with.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
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
    """One exportable table: its query and answer field (both may depend on the
    arguments), how its arguments are read, its columns, its file's name."""

    query: Callable[[dict[str, Any]], str]
    field: Callable[[dict[str, Any]], str]
    arguments: dict[str, Callable[[str], Any]]
    headers: list[str]
    row: Callable[[dict[str, Any]], list[Any]]
    filename: Callable[[dict[str, Any], dict[str, Any]], str]


def _assessment_row(e: dict[str, Any]) -> list[Any]:
    rates = [e["responseRate"], e["resolutionRate"], e["satisfactionRate"]]
    values: list[Any] = [e["rank"], e["name"], e["cases"], _number(e["score"])]
    for rate in rates:
        values += [_number(rate["value"]), _number(rate["numerator"], 2), rate["denominator"]]
    return [*values, e["refusedReturns"], e["previousRank"], e["movement"]]


def _monthly(name: str) -> Callable[[dict[str, Any], dict[str, Any]], str]:
    return lambda answer, _: f"{name}-{answer['level'].lower()}-{answer['month']}"


METRICS = {
    "cases": "案件数",
    "open": "未办结",
    "acceptedWithinDeadline": "按时受理率(%)",
    "medianHoursToAccept": "受理时长中位数(小时)",
    "p90HoursToAccept": "受理时长P90(小时)",
    "resolvedWithinDeadline": "按时办结率(%)",
    "medianHoursToResolve": "办结时长中位数(小时)",
    "p90HoursToResolve": "办结时长P90(小时)",
    "whistlesBlown": "吹哨次数",
    "overdueReportIns": "超时报到",
    "helpingHandRequests": "大手拉小手请求",
    "helpingHandsReceived": "获得帮扶",
    "reopenRate": "重开率(%)",
    "meanSatisfaction": "平均满意度",
    "casesPerThousandHouseholds": "每千户案件数",
}
"""A comparison's columns: every figure of `CaseMetrics`, with its Chinese header."""

COMPARED = {"COMMUNITY": "communities", "STREET": "streets", "PARTNER": "partners"}
"""A comparison's level and the `statistics` field that answers it."""


def _compared(variables: dict[str, Any]) -> str:
    level = variables.get("level")
    if level not in COMPARED:
        raise ValueError(f"`level` is one of {', '.join(COMPARED)}, not {level!r}")
    return COMPARED[level]


def _comparison_query(variables: dict[str, Any]) -> str:
    figures = " ".join(f"{name} {{ value }}" for name in METRICS)
    return f"""query Export($from: DateTime!, $to: DateTime!, $orderBy: MetricOrder,
    $minimumSample: Int) {{
  statistics {{ {_compared(variables)}(period: {{from: $from, to: $to}}, orderBy: $orderBy,
                               minimumSample: $minimumSample) {{
    period {{ from to }} entries {{ rank name metrics {{ {figures} }} }} }} }} }}"""


def _comparison_filename(answer: dict[str, Any], variables: dict[str, Any]) -> str:
    period = answer["period"]
    return f"comparison-{variables['level'].lower()}-{period['from'][:10]}-{period['to'][:10]}"


def _date_time(value: str) -> str:
    """A date-time of the query string; a `+` of its offset left unencoded arrives as a
    space, which is put back."""
    return value.replace(" ", "+")


TABLES = {
    "assessment": Table(
        lambda _: ASSESSMENT,
        lambda _: "assessment",
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
        _monthly("assessment"),
    ),
    "watch-list": Table(
        lambda _: WATCH_LIST,
        lambda _: "watchList",
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
        _monthly("watch-list"),
    ),
    "comparison": Table(
        _comparison_query,
        _compared,
        {
            "level": str.upper,
            "from": _date_time,
            "to": _date_time,
            "orderBy": lambda value: {"metric": value.upper()},
            "minimumSample": int,
        },
        ["排名", "名称", *METRICS.values()],
        lambda e: [e["rank"], e["name"], *(_number(e["metrics"][m]["value"]) for m in METRICS)],
        _comparison_filename,
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
        query, field = table.query(variables), table.field(variables)
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
        # A comparison's `level` picks its field, not a variable: undeclared variables are
        # ignored by GraphQL.
        result = await schema.execute(query, variables, context_value=context)
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
    answer = result.data["statistics"][field]
    rows = [table.row(e) for e in answer["entries"]]
    filename = f"{table.filename(answer, variables)}.{kind}"
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
    book = Workbook(write_only=True)
    sheet = book.create_sheet(name[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    heading = []
    for text in headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    for row in rows:
        sheet.append(["" if v is None else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _error(status: int, message: str) -> Response:
    return error_response(status, message, http_status_code(status))


def _unavailable() -> Response:
    return error_response(
        503, UNAVAILABLE_MESSAGE, ErrorCode.DATABASE_UNAVAILABLE, {"Retry-After": "1"}
    )
