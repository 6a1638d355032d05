"""The OpenAPI schema's error answers: every operation documents the refusals it can give.

drf-spectacular documents what a view says it returns; the errors DRF itself answers with (bad input,
no login, no permission, no such row, too many requests) are added here, once, for every operation
that can give them, with one permissive Error body: ``{"detail": "...", "code": "..."}`` or the fields' messages
(also where a view documents a refusal in words only).
Operations that take a body also document the refusals of a body no one can read (trailers/bodies.py).
"""

from __future__ import annotations

ERROR = {
    "type": "object",
    "description": 'The reason, in plain words: {"detail": "...", "code": "..."}, or each bad field with its messages.',
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "additionalProperties": True,
}
ERRORS = {
    "400": "the request is malformed or a value is refused",
    "401": "no valid login (session) or token",
    "403": "logged in, but without the permission this needs",
    "404": "no such row, or a page past the end",
    "429": "too many requests: try again later",
}
BODY_ERRORS = {
    "413": "the body is too large: at most 10 MB of JSON or form data (DATA_UPLOAD_MAX_MEMORY_SIZE)",
    "415": "a body of a type this operation does not read, or in another charset than UTF-8",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]); the bodies that refuse
    fields they do not take (serializers.RefusesUnknownFields) say so with ``additionalProperties: false``."""
    from .serializers import RefusesUnknownFields

    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    _open_bounds(schemas)
    for name in RefusesUnknownFields.component_names & set(schemas):
        schemas[name]["additionalProperties"] = False
    if "PatchedTrailerRename" in schemas:  # PATCH's copy of a body marks nothing required; a rename needs its title
        schemas["PatchedTrailerRename"]["required"] = ["title"]
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = {**ERRORS, **BODY_ERRORS} if "requestBody" in operation else ERRORS
            for code, description in errors.items():
                operation["responses"].setdefault(code, {"description": description, "content": reference})
            for code, response in operation["responses"].items():
                if code.startswith("4") and "content" not in response:  # a view's refusal documented in words only
                    response["content"] = reference
    return result


def _open_bounds(schemas: dict) -> None:
    """A bound an option does not include (a learning rate greater than 0, a dropout less than 1) is exclusive in
    the schema too (OpenAPI 3.0: ``exclusiveMinimum: true`` beside the minimum), as ml/config.py declares it."""
    from ml.config import LRCNConfig, TrainConfig, options

    for component, config in (("ModelOptions", LRCNConfig), ("TrainOptions", TrainConfig)):
        properties = schemas.get(component, {}).get("properties", {})
        for name, declared in options(config).items():
            if name not in properties:
                continue
            if declared.low_open and "minimum" in properties[name]:
                properties[name]["exclusiveMinimum"] = True
            if declared.high_open and "maximum" in properties[name]:
                properties[name]["exclusiveMaximum"] = True
