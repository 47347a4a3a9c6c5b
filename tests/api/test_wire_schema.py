"""/openapi.json describes every native answer: each 2xx JSON body of a native route is a ``pixembed.wire``
model with named properties, and nothing inside it is an untyped ``{}``."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pixembed import wire
from tests.helpers import is_native_operation

# A schema with any of these keys says something about its values (a bare {} or a lone title does not).
TYPED = ("type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const", "properties", "items")


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _untyped(document: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """The places under ``schema`` (followed through references) whose schema says nothing of its values."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _untyped(document, _resolve(document, schema), name, seen)
    if not any(key in schema for key in TYPED):
        return [where]
    found = []
    for key in ("anyOf", "oneOf", "allOf"):
        for i, option in enumerate(schema.get(key, [])):
            found += _untyped(document, option, f"{where}.{key}[{i}]", seen)
    for name, prop in schema.get("properties", {}).items():
        found += _untyped(document, prop, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        found += _untyped(document, schema["items"], f"{where}[]", seen)
    extra = schema.get("additionalProperties")
    # ``metadata`` is the caller's own JSON object: free-form on purpose, typed as an object.
    if isinstance(extra, dict) and extra:
        found += _untyped(document, extra, f"{where}{{}}", seen)
    return found


def _native_answers(document: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(method, path, status) -> JSON schema of every 2xx JSON answer of a native route."""
    answers = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not is_native_operation(path, operation):
                continue
            for status, response in operation["responses"].items():
                if status.startswith("2") and "application/json" in response.get("content", {}):
                    answers[method.upper(), path, status] = response["content"]["application/json"]["schema"]
    return answers


def test_every_native_answer_is_a_wire_model_with_typed_properties(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    answers = _native_answers(document)
    for needed in (
        ("POST", "/v1/dedup", "200"),
        ("POST", "/v1/cluster", "200"),
        ("POST", "/v1/collections/{name}/dedup", "202"),
        ("GET", "/v1/jobs/{job_id}", "200"),
        ("POST", "/v1/collections", "201"),
        ("GET", "/v1/keys", "200"),
        ("GET", "/healthz", "200"),
        ("GET", "/readyz", "200"),
    ):
        assert needed in answers, f"{needed} has no documented JSON answer"
    for operation, schema in answers.items():
        assert "$ref" in schema, f"{operation} answers an inline schema, not a wire model: {schema}"
        name = schema["$ref"].rsplit("/", 1)[-1]
        assert name in wire.__all__, f"{operation} answers {name}, which is not in pixembed.wire"
        assert _resolve(document, schema).get("properties"), f"{operation}: {name} has no properties"
        assert not _untyped(document, schema, name, set()), (
            operation,
            _untyped(document, schema, name, set()),
        )


def test_a_job_answer_names_both_results_it_can_hold(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    result = document["components"]["schemas"]["JobOut"]["properties"]["result"]
    refs = {option.get("$ref", "").rsplit("/", 1)[-1] for option in result["anyOf"]}
    assert refs == {"DedupOut", "ClusteringOut", ""}  # "" is the null of a job not done yet
