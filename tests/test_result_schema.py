"""result.json's JSON Schema: an ``$id``, a ``const`` schema version, and real results valid."""

from __future__ import annotations

import json

import jsonschema
import pytest

from grader.results import SCHEMA_ID, SCHEMA_VERSION, json_schema
from tests.export.test_exports import PASSED, result


def test_schema_names_itself_and_pins_its_version() -> None:
    schema = json_schema()
    assert schema["$id"] == SCHEMA_ID and SCHEMA_ID.endswith(f"v{SCHEMA_VERSION}")
    assert schema["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    jsonschema.Draft202012Validator.check_schema(schema)


def test_a_result_validates_and_another_version_does_not() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    data = json.loads(result("ada", PASSED).to_json())
    validator.validate(data)
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(jsonschema.ValidationError, match="was expected"):
        validator.validate(data)
