"""Terminal escape sequences out of text: werkzeug colours its request log
(``\\x1b[1m\\x1b[35mGET /x HTTP/1.1\\x1b[0m``), and so do many CLI loggers.

Linear in the text: every quantifier is possessive over a class that cannot hold the
sequence's end, so each match attempt starts only at ESC (or the 8-bit CSI) and reads at
most to the next one; text without either is returned as is after one scan.
"""

from __future__ import annotations

import re

_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*+[ -/]*+(?:[@-~]|\Z)"  # CSI: colours (SGR), cursor moves, erase;
    # at the very end also a sequence the sender's cap cut short
    r"|\x1b\][^\x07\x1b]*+(?:\x07|\x1b\\)"  # OSC: window titles, hyperlinks; BEL or ST ends
    r"|\x1b[ -/]*+[0-~]"  # any other escape: ESC ( B (charset), ESC c, ESC 7, a cut sequence
)


def strip(text: str) -> str:
    """``text`` without ANSI/VT escape sequences (colours, cursor moves, titles, links)."""
    if "\x1b" not in text and "\x9b" not in text:
        return text
    return _SEQUENCE.sub("", text)
