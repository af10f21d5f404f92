"""Caps on a GraphQL document, checked before validation (which is quadratic in fields).

highlight.run's operations are one mutation with a few dozen variables; these caps sit
far above that and far below what makes graphql-core's validation or execution slow.
"""

from __future__ import annotations

from graphql import DocumentNode, FieldNode, FragmentDefinitionNode, GraphQLError, Node

MAX_TOKENS = 2_000
MAX_FIELDS = 64
MAX_DEPTH = 8
MAX_DEFINITIONS = 8


def _refuse(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "query_too_complex"})


def check(document: DocumentNode) -> None:
    """Raise a GraphQLError naming the cap a document exceeds. Linear in the document."""
    if len(document.definitions) > MAX_DEFINITIONS:
        raise _refuse(f"{len(document.definitions)} definitions; the limit is {MAX_DEFINITIONS}")
    fields = 0
    stack: list[tuple[Node, int]] = [(d, 0) for d in document.definitions]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, FieldNode):
            fields += 1
            if fields > MAX_FIELDS:
                raise _refuse(f"more than {MAX_FIELDS} fields; the limit is {MAX_FIELDS}")
        if depth > MAX_DEPTH:
            raise _refuse(f"selections nested more than {MAX_DEPTH} deep")
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            inner = depth if isinstance(node, FragmentDefinitionNode) else depth + 1
            stack.extend((s, inner) for s in selection_set.selections)
