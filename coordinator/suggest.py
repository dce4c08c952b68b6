"""A mistyped name suggests the nearest valid one ("did you mean rx_ring?")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """'did you mean X? ' for the closest of `choices` to `word`, or '' when none is close.
    Case is ignored in the comparison (RX_RING finds rx_ring)."""
    if not isinstance(word, str) or not word:
        return ""
    by_lower: dict[str, str] = {}
    for c in choices:
        by_lower.setdefault(c.lower(), c)
    best = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    return f"did you mean {by_lower[best[0]]}? " if best else ""
