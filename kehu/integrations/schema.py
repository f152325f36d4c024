"""OpenAPI post-processing (drf-spectacular hook): an example for every operation's JSON request body and
success answer, derived from the schema (names, formats, enums, nested objects), unless the operation already
has one; the Idempotency-Key header on every create; the scoped bearer token in the security schemes."""

from __future__ import annotations

SAMPLE_STRINGS = {
    "date-time": "2026-12-01T09:30:00+08:00",
    "date": "2026-12-01",
    "time": "09:30:00",
    "email": "wang.fang@example.com",
    "uri": "https://crm.example.com/customers/42/",
    "uuid": "7f0c4c52-8a7e-4b0b-9d7c-3a1f1e2b9c10",
    "decimal": "1280.00",
}
SAMPLE_NAMES = {
    "name": "上海测试有限公司",
    "city": "上海",
    "phone": "+8613800138000",
    "email": "wang.fang@example.com",
    "currency": "CNY",
    "subject": "设备漏水",
    "title": "回访客户",
}

IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string (a UUID): a retry with the same key and body answers what the first "
    "request answered (`Idempotent-Replayed: true`) instead of creating again; the same key with another body "
    "answers 422. Kept 24 hours.",
    "schema": {"type": "string", "maxLength": 255},
}


def _resolve(schema: dict, components: dict) -> dict:
    seen = 0
    while "$ref" in schema and seen < 20:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
        seen += 1
    return schema


def example_of(schema: dict, components: dict, name: str = "", depth: int = 0):
    schema = _resolve(schema or {}, components)
    if "example" in schema:
        return schema["example"]
    for key in ("allOf", "oneOf", "anyOf"):
        if schema.get(key):
            options = [s for s in schema[key] if _resolve(s, components).get("type") != "null"] or schema[key]
            return example_of(options[0], components, name, depth)
    if schema.get("enum"):
        values = [v for v in schema["enum"] if v not in (None, "")]
        return values[0] if values else schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if depth > 4:
        return {} if kind == "object" else None
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: example_of(v, components, k, depth + 1) for k, v in list(props.items())[:40]}
    if kind == "array":
        return [example_of(schema.get("items") or {}, components, name, depth + 1)]
    if kind == "integer":
        return 42 if name in ("id", "") or name.endswith("_id") else 1
    if kind == "number":
        return 12.5
    if kind == "boolean":
        return True
    fmt = schema.get("format", "")
    if fmt in SAMPLE_STRINGS:
        return SAMPLE_STRINGS[fmt]
    if schema.get("pattern", "").startswith("^-?\\d"):
        return "1280.00"
    return SAMPLE_NAMES.get(name, "string" if not name else name.replace("_", " "))


def examples_and_headers(result, generator, request, public):
    components = result.get("components", {}).get("schemas", {})
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["scopedToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A scoped API token (kehu_…) from Integrations → API tokens: `Authorization: Bearer "
        "kehu_…` (docs/integrations.md).",
    }
    for _path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method not in {"get", "post", "put", "patch", "delete"}:
                continue
            if operation.get("security"):
                operation["security"] = [*operation["security"], {"scopedToken": []}]
            if method == "post" and operation.get("operationId", "").endswith("_create"):
                params = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in params):
                    params.append(IDEMPOTENCY_HEADER)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body and "schema" in body and "example" not in body and "examples" not in body:
                body["example"] = example_of(body["schema"], components)
            for code, response in operation.get("responses", {}).items():
                if not str(code).startswith("2"):
                    continue
                media = (response.get("content") or {}).get("application/json")
                if media and "schema" in media and "example" not in media and "examples" not in media:
                    media["example"] = example_of(media["schema"], components)
    return result
