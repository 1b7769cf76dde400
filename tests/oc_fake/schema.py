"""The real Open Collective schema, and the checks a request must pass before the fake answers it.

`check_request` rejects what the real API would reject: bad JSON, GraphQL syntax, anything
`validate` finds against the real SDL, variables that do not coerce to their declared types, and
Open Collective's own query limits (depth 20, 1,500 tokens, 100 aliases).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    build_schema,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

SCHEMA_PATH = (
    Path(__file__).resolve().parents[1] / "fixtures" / "opencollective" / "schemaV2.graphql"
)
MAX_DEPTH = 20
MAX_TOKENS = 1500
MAX_ALIASES = 100


@functools.cache
def load_schema() -> GraphQLSchema:
    """Build once per process (~0.7 s). `assume_valid`: see /work/shared/opencollective/README."""
    schema = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"), assume_valid=True)
    _strict_datetime(schema)
    return schema


def _parse_datetime_value(value: Any) -> str:
    # build_schema leaves custom scalars accepting anything; the real DateTime refuses non-dates.
    if not isinstance(value, str):
        raise GraphQLError(f"DateTime cannot represent non-string value: {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        message = f"DateTime cannot represent an invalid date-time-string {value}."
        raise GraphQLError(message) from None
    if parsed.tzinfo is None and "T" in value:
        raise GraphQLError(f"DateTime must include a time zone: {value}")
    return value


def _parse_datetime_literal(node: ValueNode, _variables: Any = None) -> str:
    if not isinstance(node, StringValueNode):
        raise GraphQLError("DateTime cannot represent a non-string literal")
    return _parse_datetime_value(node.value)


def _strict_datetime(schema: GraphQLSchema) -> None:
    scalar = schema.type_map["DateTime"]
    assert isinstance(scalar, GraphQLScalarType)
    scalar.parse_value = _parse_datetime_value  # type: ignore[method-assign]
    scalar.coerce_input_value = _parse_datetime_value
    scalar.parse_literal = _parse_datetime_literal  # type: ignore[method-assign,assignment]


@dataclass(frozen=True)
class CheckedRequest:
    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict[str, Any]  # as sent; execution coerces them again
    operation_name: str | None


def check_request(payload: object) -> CheckedRequest | list[str]:
    """Return the parsed request, or the list of reasons the real API would refuse it."""
    if not isinstance(payload, Mapping):
        return ["POST body must be a JSON object"]
    query = payload.get("query")
    variables = payload.get("variables") or {}
    operation_name = payload.get("operationName")
    if not isinstance(query, str) or not query.strip():
        return ["Must provide query string."]
    if not isinstance(variables, dict):
        return ["Variables must be provided as an Object where each property is a variable."]
    if operation_name is not None and not isinstance(operation_name, str):
        return ["operationName must be a string."]
    schema = load_schema()
    try:
        document = parse(query, max_tokens=MAX_TOKENS, allow_empty_selection_sets=False)
    except GraphQLError as error:
        return [error.message]
    errors = validate(schema, document, allow_empty_selection_sets=False)
    if errors:
        return [error.message for error in errors]
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return [f"Unknown or ambiguous operation {operation_name!r}"]
    limits = _limit_errors(document, operation)
    if limits:
        return limits
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return [error.message for error in coerced]
    return CheckedRequest(document, operation, variables, operation_name)


def _limit_errors(document: DocumentNode, operation: OperationDefinitionNode) -> list[str]:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    aliases = 0

    def depth(selection_set: SelectionSetNode | None, seen: frozenset[str]) -> int:
        nonlocal aliases
        if selection_set is None:
            return 0
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                aliases += selection.alias is not None
                deepest = max(deepest, 1 + depth(selection.selection_set, seen))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, depth(selection.selection_set, seen))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    deepest = max(deepest, depth(fragments[name].selection_set, seen | {name}))
        return deepest

    errors = []
    found = depth(operation.selection_set, frozenset())
    if found > MAX_DEPTH:
        errors.append(f"Query is too deep: {found} > {MAX_DEPTH}")
    if aliases > MAX_ALIASES:
        errors.append(f"Too many aliases: {aliases} > {MAX_ALIASES}")
    return errors
