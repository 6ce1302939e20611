"""The OpenAPI document at /docs is complete: every operation has examples, errors are problem+json."""

from __future__ import annotations

from gateway.bootstrap import create_app


def operations():
    doc = create_app().openapi()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield doc, path, method, op


def _has_example(media: dict) -> bool:
    return "example" in media or bool(media.get("examples"))


def test_every_operation_has_a_summary_and_an_example_for_every_response():
    for _, path, method, op in operations():
        assert op.get("summary"), (method, path)
        for status, resp in op["responses"].items():
            content = resp.get("content", {})
            if status == "204":
                assert not content, (method, path)  # no body, so no Content-Type either
                continue
            assert content and all(_has_example(m) for m in content.values()), (
                method,
                path,
                status,
            )


def test_every_request_body_has_examples():
    for _, path, method, op in operations():
        if "requestBody" in op:
            media = op["requestBody"]["content"]["application/json"]
            assert _has_example(media), (method, path)


def test_errors_are_problem_json_and_v1_routes_need_a_bearer_token():
    for _doc, path, method, op in operations():
        for status, resp in op["responses"].items():
            if status.startswith(("4", "5")):
                assert list(resp["content"]) == ["application/problem+json"], (method, path, status)
        if path.startswith("/v1/") and path not in ("/v1/users", "/v1/sessions"):
            assert op.get("security") == [{"bearer": []}], (method, path)
    sign_in = next(op for _, p, m, op in operations() if p == "/v1/sessions" and m == "post")
    assert "security" not in sign_in and "401" in sign_in["responses"]
    schemas = create_app().openapi()["components"]["schemas"]
    assert "Problem" in schemas and "HTTPValidationError" not in schemas


def test_the_api_is_versioned_under_v1():
    paths = {p for _, p, _, _ in operations()}
    assert {p for p in paths if not p.startswith("/v1/")} == {"/healthz", "/readyz", "/metrics"}
