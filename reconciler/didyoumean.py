"""Did-you-mean suggestions from a list of known names (a host's services, rulesets and advanced options, the
spec kinds, a model's fields). Pure and cheap: difflib, case-insensitive."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, known: Iterable[str], cutoff: float = 0.75) -> str | None:
    """The known name most like `word` (case differences alone always match), or None."""
    names = list(known)
    lower = {n.lower(): n for n in names}
    if word.lower() in lower:
        return lower[word.lower()]
    found = difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=cutoff)
    return lower[found[0]] if found else None


def suggest(word: str, known: Iterable[str], cutoff: float = 0.75) -> str:
    """` (did you mean 'TSM-SSH'?)` or an empty string."""
    match = closest(word, known, cutoff)
    return f" (did you mean {match!r}?)" if match and match != word else ""
