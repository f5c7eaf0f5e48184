"""The OpenAPI 3.1 document, generated from the same route table the router uses."""

from __future__ import annotations

import re
from typing import Any

from crm.http.errors_map import STATUS
from crm.http.routing import Route

_PARAM = re.compile(r"{(\w+)}")
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message", "details"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "object"},
    },
}


def _schema(model: Any, components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _parameters(route: Route) -> list[dict[str, Any]]:
    params = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
        for n in _PARAM.findall(route.path)
    ]
    if route.query is not None:
        schema = route.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": prop,
                    **({"description": prop["description"]} if "description" in prop else {}),
                }
            )
    return params


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(code): {"description": text} for code, text in route.responses.items()
    }
    # every route may answer the general errors; 429 only where a route says so (login)
    for code in sorted(
        {c for _, c in STATUS} - {401, 403, 429} | ({401, 403} if not route.public else set())
    ):
        responses.setdefault(
            str(code),
            {"description": "error", "content": {"application/json": {"schema": _ERROR_REF}}},
        )
    op: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _parameters(route),
        "responses": responses,
        "x-roles": ["admin", *sorted(r.value for r in route.roles)] if not route.public else [],
    }
    if route.public:
        op["security"] = []
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(route.body, components)}},
        }
    elif route.raw_body_types:
        op["requestBody"] = {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in route.raw_body_types
            },
        }
    return op


def build_openapi(
    routes: list[Route], *, title: str = "dialcrm CRM API", version: str = "1"
) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Every endpoint needs a bearer token or the session cookie "
            "unless marked otherwise; errors are "
            '{"error", "message", "details"} JSON.',
        },
        "paths": paths,
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "dialcrm_session"},
            },
        },
    }
