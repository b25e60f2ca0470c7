"""Out-of-range and non-finite numbers in admin inputs give 400, never a 500 (issue #11).

The table of cases is generated from ``/admin/openapi.json``: every numeric field of every
admin route (JSON body, query and path), so a new route's numbers are tried too.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flightdeck.core.settings import load_settings
from flightdeck.testing.server import ServerThread

BODY_VALUES = [
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "1" + "0" * 30,
    "-" + "1" + "0" * 30,
    str(2**63),
    str(2**62),
    "1.5",
    "-1",
    '"12"',
    "true",
    "[]",
    "{}",
    "1" + "0" * 5000,
]
NEVER_ACCEPTED = {"1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1" + "0" * 30, str(2**63)}
NEVER_ACCEPTED |= {"-" + "1" + "0" * 30, "1" + "0" * 5000}
PARAM_VALUES = ["1" + "0" * 30, str(2**63), str(2**40), "-1", "1e400", "NaN", "1.5", "abc"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    home: Path = tmp_path_factory.mktemp("numbers")
    settings = load_settings(None, {}, defaults={"home": str(home), "server": {"port": 0}})
    with ServerThread(settings) as running:
        yield running


def call(server: ServerThread, method: str, path: str, body: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
    data = body.encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return resolve(components[ref.rsplit("/", 1)[1]], components) if ref else schema


def numeric(schema: dict[str, Any]) -> bool:
    kinds = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
    return "integer" in kinds or "number" in kinds


def filler(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    schema = resolve(schema, components)
    if "enum" in schema:
        return schema["enum"][0]
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return filler(option, components)
    return {
        "string": "x",
        "integer": 1,
        "number": 1,
        "boolean": False,
        "array": [],
        "object": {},
    }.get(schema.get("type", "string"), "x")


def cases(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(method, path template, where, field) for every numeric input of every admin route."""
    components = document.get("components", {}).get("schemas", {})
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if numeric(param.get("schema", {})):
                    found.append((method.upper(), path, param["in"], param["name"]))
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema:
                for name, prop in resolve(schema, components).get("properties", {}).items():
                    if numeric(resolve(prop, components)):
                        found.append((method.upper(), path, "body", name))
    return found


def request_for(
    document: dict[str, Any], method: str, path: str, where: str, field: str, value: str
) -> tuple[str, str | None]:
    """The URL and raw JSON body (with ``value`` written as is) of one case."""
    components = document.get("components", {}).get("schemas", {})
    operation = document["paths"][path][method.lower()]
    url = re.sub(r"\{(\w+)\}", lambda m: value if m[1] == field and where == "path" else "1", path)
    if where == "query":
        url += f"?{field}={value}"
    body = None
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    if "schema" in schema:
        model = resolve(schema["schema"], components)
        fields = {
            n: filler(p, components)
            for n, p in model.get("properties", {}).items()
            if n in model.get("required", [])
        }
        if where == "body":
            fields[field] = "__VALUE__"
        body = json.dumps(fields).replace('"__VALUE__"', value)
    return "/admin" + url, body


def assert_clean_refusal(status: int, answer: Any) -> None:
    assert status < 500, answer
    if status >= 400:
        assert isinstance(answer, dict) and set(answer["error"]) >= {"message", "type"}, answer


@pytest.fixture(scope="module")
def document(server: ServerThread) -> dict[str, Any]:
    status, answer = call(server, "GET", "/admin/openapi.json", None)
    assert status == 200
    return dict(answer)


def test_the_table_covers_the_numeric_admin_fields(document: dict[str, Any]) -> None:
    found = {(m, p, f) for m, p, _, f in cases(document)}
    assert ("PUT", "/budgets", "requests_per_minute") in found
    assert ("PUT", "/budgets", "monthly_budget") in found
    assert ("DELETE", "/keys/{key_id}", "key_id") in found


def test_every_numeric_admin_field_refuses_bad_numbers_cleanly(
    server: ServerThread, document: dict[str, Any]
) -> None:
    failures = []
    for method, path, where, field in cases(document):
        for value in BODY_VALUES if where == "body" else PARAM_VALUES:
            url, body = request_for(document, method, path, where, field, value)
            status, answer = call(server, method, url, body)
            try:
                assert_clean_refusal(status, answer)
                assert status >= 400 or value not in NEVER_ACCEPTED, "accepted"
            except AssertionError:
                failures.append(f"{method} {url} {body}: {status} {str(answer)[:120]}")
    assert failures == []


@pytest.mark.parametrize("value", ["1e400", "NaN", "Infinity", "1" + "0" * 30])
def test_limit_out_of_range_is_400_in_the_error_shape(server: ServerThread, value: str) -> None:
    status, answer = call(server, "PUT", "/admin/budgets", f'{{"tokens_per_minute": {value}}}')
    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(
        ["requests_per_minute", "tokens_per_minute", "concurrent_requests", "monthly_budget"]
    ),
    value=st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
    ),
)
def test_budget_numbers_never_500(server: ServerThread, field: str, value: float) -> None:
    status, answer = call(server, "PUT", "/admin/budgets", json.dumps({field: value}))
    assert_clean_refusal(status, answer)
    if isinstance(value, float) and not math.isfinite(value):
        assert status == 400
    if isinstance(value, int) and abs(value) >= 2**63:
        assert status == 400
