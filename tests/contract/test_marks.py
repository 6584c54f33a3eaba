"""Findings sorted by the contract parts they touch: documented, inferred, or neither."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from schemathesis.core.failures import AcceptedNegativeData, ServerError
from schemathesis.openapi.checks import (
    AuthScenario,
    IgnoredAuth,
    JsonSchemaError,
    MissingHeaders,
    UndefinedStatusCode,
    UnsupportedMethodResponse,
)

from vivi_emulator.contract.marks import ContractMarks, Seen
from vivi_emulator.spec import contract

STREAM = "POST /channelsApi/{channelId}/stream"
INVOKE = "POST /channelsApi/{channelId}/invoke"
BATCH = "POST /channelsApi/{channelId}/batch"
MARKS = ContractMarks(contract())


def schema_error(schema: dict[str, Any], instance: Any, title: str) -> JsonSchemaError:
    error = next(jsonschema_rs.validator_for(schema).iter_errors(instance))
    return JsonSchemaError.from_exception(title=title, operation="x", exc=error, root_schema=schema)


def undeclared(status: int) -> UndefinedStatusCode:
    return UndefinedStatusCode(
        operation=STREAM,
        status_code=status,
        defined_status_codes=["200"],
        allowed_status_codes=[200],
        message=f"Received: {status}",
    )


def test_an_undeclared_error_status_means_our_list_of_errors_is_wrong() -> None:
    touch = MARKS.classify(undeclared(400), STREAM, Seen(status_code=400))
    assert touch.source == "inferred"
    assert touch.part == "#/paths/~1channelsApi~1{channelId}~1stream/post/responses"


def test_an_undeclared_success_status_on_a_documented_operation_breaks_the_docs() -> None:
    assert MARKS.classify(undeclared(201), STREAM, Seen(status_code=201)).source == "documented"
    assert MARKS.classify(undeclared(201), INVOKE, Seen(status_code=201)).source == "inferred"


def test_a_batch_item_without_thread_id_is_found_through_the_array() -> None:
    schema = {"type": "object", "properties": {"responses": {"type": "array", "items": {
        "type": "object", "required": ["message", "threadId"]}}}}  # fmt: skip
    failure = schema_error(schema, {"responses": [{"message": "x"}]}, "Response violates schema")
    touch = MARKS.classify(failure, BATCH, Seen(status_code=200, content_type="application/json"))
    assert touch.source == "inferred"
    assert touch.part == "#/components/schemas/InvokeResponse/properties/threadId"
    assert ("#/components/schemas/BatchResponse/properties/responses", "inferred") in touch.trail


def test_an_event_missing_its_name_breaks_the_docs() -> None:
    failure = schema_error(
        {"type": "object", "required": ["message", "event"]},
        {"message": "hi"},
        "SSE event payload violates content schema",
    )
    touch = MARKS.classify(failure, STREAM, Seen(status_code=200, content_type="text/event-stream"))
    assert touch.source == "documented"
    assert touch.part == "#/components/schemas/StreamEvent/properties/event"


def test_a_wrong_header_value_touches_that_header() -> None:
    failure = schema_error(
        {"type": "string", "const": "no-cache"},
        "no-store",
        "Response header does not conform to the schema",
    )
    touch = MARKS.classify(
        failure, STREAM, Seen(status_code=200, headers={"Cache-Control": "no-store"})
    )
    assert touch.source == "inferred"
    assert touch.part.endswith("/responses/200/headers/Cache-Control")
    missing = MissingHeaders(operation=STREAM, missing_headers=["Cache-Control"], message="")
    assert MARKS.classify(missing, STREAM, Seen(status_code=200)).part == touch.part


@pytest.mark.parametrize(
    ("status", "source", "part"),
    [
        (200, "documented", "#/components/securitySchemes/viviApiKey"),
        (400, "inferred", "#/components/responses/Unauthorized"),
    ],
)
def test_ignored_auth(status: int, source: str, part: str) -> None:
    failure = IgnoredAuth(operation=STREAM, message="", scenario=AuthScenario.NO_AUTH)
    touch = MARKS.classify(failure, STREAM, Seen(status_code=status))
    assert (touch.source, touch.part) == (source, part)


def test_accepted_invalid_data_touches_the_mutated_field() -> None:
    message = "Invalid component: in body - violates `type` at /properties/userId/oneOf/0"
    failure = AcceptedNegativeData(
        operation=STREAM, message=message, status_code=200, expected_statuses=["422"]
    )
    touch = MARKS.classify(failure, STREAM, Seen(status_code=200))
    assert touch.source == "documented"
    assert touch.part == "#/components/schemas/MessageRequest/properties/userId"
    sent = {"message": "hi", "attachedFiles": 3}
    loose = AcceptedNegativeData(
        operation=STREAM, message="", status_code=200, expected_statuses=["422"]
    )
    assert (
        MARKS.classify(loose, STREAM, Seen(status_code=200, request_body=sent)).source == "inferred"
    )


def test_failures_outside_the_contract() -> None:
    wrong_method = UnsupportedMethodResponse(
        operation=STREAM, method="GET", status_code=404, failure_reason="wrong_status", message=""
    )
    assert MARKS.classify(wrong_method, STREAM, Seen(status_code=404)).source == "inferred"
    crash = ServerError(operation=STREAM, status_code=500)
    assert MARKS.classify(crash, STREAM, Seen(status_code=500)).source == "unmarked"
    assert MARKS.classify(crash, "GET /nowhere", Seen(status_code=500)).source == "unmarked"
