"""Span trees: spans nested under their parents, from rows of any store."""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]
MAX_TREE_DEPTH = 100


def span_tree(spans: list[Row]) -> list[Row]:
    """Nest spans under their parents (``children``); roots are spans without a known parent.

    Any stored data makes a tree: the first span with an id owns it, and a span whose
    parents form a cycle becomes a root (the earliest of the cycle), so a page never loops.
    The tree is at most ``MAX_TREE_DEPTH`` deep (JSON parsers refuse deeper documents):
    deeper spans are listed under their ancestor at that depth, their ``parent_span_id``
    unchanged.
    """
    ordered = sorted(spans, key=lambda s: s["start_ns"])
    by_id: dict[str, Row] = {}
    for s in ordered:
        by_id.setdefault(s["span_id"], s)
    children: dict[int, list[Row]] = {}
    roots: list[Row] = []
    for s in ordered:
        parent = by_id.get(s.get("parent_span_id") or "")
        if parent is None or parent is s:
            roots.append(s)
        else:
            children.setdefault(id(parent), []).append(s)
    seen: set[int] = set()

    def below(node: Row) -> list[Row]:
        kids = [c for c in children.get(id(node), ()) if id(c) not in seen]
        seen.update(id(c) for c in kids)
        return kids

    def attach(root: Row) -> None:
        seen.add(id(root))
        queue: list[tuple[Row, int]] = [(root, 0)]
        for node, depth in queue:
            kids = below(node)
            if depth + 1 >= MAX_TREE_DEPTH:  # flatten the rest of this branch
                for kid in kids:
                    kids.extend(below(kid))
                    kid["children"] = []
                node["children"] = kids
                continue
            node["children"] = kids
            queue.extend((kid, depth + 1) for kid in kids)

    for root in roots:
        attach(root)
    for s in ordered:
        if id(s) not in seen:  # part of a parent cycle
            roots.append(s)
            attach(s)
    return roots
