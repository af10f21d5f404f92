"""The error list's users per group (``query/errorfacts.py users_by_group``): distinct
identified users by the facts' rule, whatever the stores hand over."""

from __future__ import annotations

from backlight_server.query.errorfacts import MAX_VALUE, users_by_group


def test_users_are_distinct_identifiers_per_group() -> None:
    long = "u" * (MAX_VALUE + 50)
    pairs = [
        (1, "ada@x.test"),
        (1, "ada@x.test"),  # two sessions of one user
        (1, "bob@x.test"),
        (1, "   "),  # no identifier
        (1, None),
        (1, 42),  # a stored value that is no text
        (2, long),
        (2, long + "tail"),  # the same first MAX_VALUE characters: one user
        ("3", "eve@x.test"),  # a group id that is no number
    ]
    assert users_by_group(pairs) == {1: 2, 2: 1}
    assert users_by_group([]) == {}
