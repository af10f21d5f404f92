"""The log search's words in SQLite (``query.logstats.search_words``: every word must occur
in a body as a substring, any case). A word of three characters or more is a phrase of the
trigram index ``logs_fts`` (migration 12); a shorter one, which a trigram index cannot
hold, is a ``LIKE`` on the rows the other conditions leave (ASCII case folding only)."""

from __future__ import annotations

from backlight_server.query.logstats import search_words

MIN_INDEXED = 3  # characters: a trigram


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def text_match(text: str) -> tuple[str, list[str]]:
    """``(FTS5 query for logs_fts, LIKE patterns for logs.body)``: either may be empty."""
    indexed, short = [], []
    for word in search_words(text):
        if len(word) >= MIN_INDEXED:
            indexed.append('"' + word.replace('"', '""') + '"')
        else:
            short.append(_like(word))
    return " AND ".join(indexed), short
