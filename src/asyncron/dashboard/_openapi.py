"""The admin API's OpenAPI 3.1 document (served at ``<mount>/openapi.json``).

Written by hand rather than generated: the API is small, framework-neutral (the same document
describes the Starlette and the aiohttp mounts), and this keeps FastAPI out of the import path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["openapi_document"]

_TIME = {"type": ["string", "null"], "format": "date-time"}
_SECONDS = {"type": ["number", "null"], "description": "seconds"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "403": _json(_ref("Error"), "authentication failed, or the CSRF check failed"),
}


def _action(name: str, summary: str, status: str = "200") -> dict[str, Any]:
    return {
        "post": {
            "operationId": f"{name}_job",
            "summary": summary,
            "tags": ["actions"],
            "security": [{"csrfHeader": []}],
            "parameters": [{"$ref": "#/components/parameters/JobId"}],
            "responses": {
                status: _json(
                    _ref("ActionResult"),
                    "done; `changed` is false when nothing "
                    "had to change (already paused, not paused, already finished)",
                ),
                "404": _json(_ref("Error"), "no such job"),
                "409": _json(_ref("Error"), "the job's state does not allow it"),
                **_ERRORS,
            },
        }
    }


def openapi_document(
    base: str, event_types: Sequence[str], statuses: Sequence[str]
) -> dict[str, Any]:
    """The OpenAPI document for a dashboard mounted at ``base`` (a URL path)."""
    job_schema: dict[str, Any] = {
        "type": "object",
        "required": ["id", "name", "status", "run_count"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "status": {"type": "string", "enum": list(statuses)},
            "func": {"type": "string", "description": "module:qualname of the callable"},
            "trigger": {
                "type": ["object", "null"],
                "properties": {
                    "type": {"type": "string", "examples": ["cron", "interval", "once"]},
                    "description": {"type": "string", "examples": ["at 09:00 on Monday"]},
                    "repr": {"type": "string"},
                    "expression": {"type": "string"},
                    "timezone": {"type": "string"},
                },
            },
            "next_run": _TIME,
            "last_run": _TIME,
            "run_count": {"type": "integer"},
            "max_runs": {"type": ["integer", "null"]},
            "failure_count": {"type": "integer"},
            "skipped_fires": {"type": "integer"},
            "buffered_fires": {"type": "integer"},
            "error": {"type": ["string", "null"], "description": "the last failure"},
            "traceback": {"type": ["string", "null"], "description": "its traceback"},
            "progress": {"type": ["string", "null"]},
            "depends_on": {"type": "array", "items": {"type": "string"}},
            "skipped_because": {"type": ["string", "null"]},
            "options": {"type": ["object", "null"]},
            "arguments": {
                "type": "string",
                "enum": ["shown", "hidden", "encrypted"],
                "description": "hidden unless the dashboard was created with "
                "show_arguments=True; arguments encrypted at rest are never shown",
            },
            "args": {"type": ["array", "null"], "items": {"type": "string"}},
            "kwargs": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
            "result": {"type": ["string", "null"], "description": "repr of the last result"},
        },
    }
    run_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "scheduled_at": _TIME,
            "started_at": _TIME,
            "ended_at": _TIME,
            "attempt": {"type": "integer"},
            "outcome": {
                "type": "string",
                "enum": ["succeeded", "failed", "retried", "cancelled", "timed_out", "abandoned"],
            },
            "duration": _SECONDS,
            "lateness": {**_SECONDS, "description": "seconds from the scheduled time to the start"},
            "error": {"type": ["string", "null"]},
            "result": {"type": ["string", "null"]},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "asyncron admin API",
            "version": "1",
            "description": (
                "Inspect and steer an asyncron scheduler. Actions (POST) need the app's "
                "authentication to pass and the X-Asyncron-CSRF header to equal the "
                "asyncron_csrf cookie (both from GET api/csrf)."
            ),
        },
        "servers": [{"url": base.rstrip("/") or "/"}],
        "paths": {
            "/api/info": {
                "get": {
                    "operationId": "info",
                    "summary": "What this client may do",
                    "responses": {"200": _json({"type": "object"}, "settings"), **_ERRORS},
                }
            },
            "/api/csrf": {
                "get": {
                    "operationId": "csrf_token",
                    "summary": "A CSRF token; also set as the asyncron_csrf cookie",
                    "responses": {
                        "200": _json(
                            {"type": "object", "properties": {"token": {"type": "string"}}},
                            "send it back in the X-Asyncron-CSRF header with the cookie",
                        )
                    },
                }
            },
            "/api/jobs": {
                "get": {
                    "operationId": "list_jobs",
                    "summary": "List jobs, optionally by status and name substring",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": list(statuses)},
                        },
                        {
                            "name": "name",
                            "in": "query",
                            "required": False,
                            "description": "case-insensitive substring of the job name",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "default": 1000,
                                "minimum": 1,
                                "maximum": 10000,
                            },
                        },
                        {
                            "name": "offset",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "default": 0, "minimum": 0},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "total": {"type": "integer"},
                                    "jobs": {"type": "array", "items": _ref("Job")},
                                },
                            },
                            "the matching jobs, in the order they were added",
                        ),
                        "400": _json(_ref("Error"), "bad filter"),
                        **_ERRORS,
                    },
                }
            },
            "/api/jobs/{job_id}": {
                "get": {
                    "operationId": "describe_job",
                    "summary": "A job, its next fires and its last runs",
                    "parameters": [
                        {"$ref": "#/components/parameters/JobId"},
                        {
                            "name": "fires",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "default": 10, "maximum": 1000},
                        },
                        {
                            "name": "runs",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "default": 50, "maximum": 1000},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "job": _ref("Job"),
                                    "next_fires": {
                                        "type": "array",
                                        "items": {"type": "string", "format": "date-time"},
                                    },
                                    "last_runs": {"type": "array", "items": _ref("Run")},
                                },
                            },
                            "the job",
                        ),
                        "404": _json(_ref("Error"), "no such job"),
                        **_ERRORS,
                    },
                }
            },
            "/api/jobs/{job_id}/pause": _action("pause", "Hold the job's fires"),
            "/api/jobs/{job_id}/resume": _action("resume", "Let a paused job fire again"),
            "/api/jobs/{job_id}/run": _action(
                "run", "Run the job now, outside its schedule (returns at once)", "202"
            ),
            "/api/jobs/{job_id}/cancel": _action("cancel", "Cancel the job for good"),
            "/api/timeline": {
                "get": {
                    "operationId": "timeline",
                    "summary": "Upcoming fires of every job in the next hours",
                    "parameters": [
                        {
                            "name": "hours",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "number", "default": 1, "maximum": 744},
                        },
                        {
                            "name": "per_job",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "default": 120, "maximum": 1000},
                        },
                    ],
                    "responses": {"200": _json({"type": "object"}, "fires per job"), **_ERRORS},
                }
            },
            "/api/stats": {
                "get": {
                    "operationId": "statistics",
                    "summary": "The scheduler's counters (SchedulerStatistics)",
                    "responses": {"200": _json({"type": "object"}, "counters"), **_ERRORS},
                }
            },
            "/api/events": {
                "get": {
                    "operationId": "events",
                    "summary": "Server-sent events: one per scheduler event",
                    "description": (
                        "Each message has `event: <type>` and `data: <JSON>` with the event's "
                        "fields (`type`, `timestamp`, `job_id`, ...). `event: dropped` says how "
                        "many events this client missed because it fell behind. The stream "
                        "ends when the scheduler stops."
                    ),
                    "parameters": [
                        {
                            "name": "types",
                            "in": "query",
                            "required": False,
                            "description": "comma-separated event types (default: all)",
                            "schema": {"type": "string"},
                            "examples": {"runs": {"value": "RunStarted,RunSucceeded,RunFailed"}},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "the stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        "400": _json(_ref("Error"), "unknown event type"),
                        **_ERRORS,
                    },
                    "x-event-types": list(event_types),
                }
            },
        },
        "components": {
            "parameters": {
                "JobId": {
                    "name": "job_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                },
            },
            "securitySchemes": {
                "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-Asyncron-CSRF"},
            },
            "schemas": {
                "Job": job_schema,
                "Run": run_schema,
                "ActionResult": {
                    "type": "object",
                    "properties": {
                        "changed": {"type": "boolean"},
                        "job": {"anyOf": [_ref("Job"), {"type": "null"}]},
                    },
                },
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
            },
        },
    }
