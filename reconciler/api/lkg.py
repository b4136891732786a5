"""Last known good: keep the previous version of documents that became invalid."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .document import Document

if TYPE_CHECKING:
    from .loader import LoadResult


def last_known_good(previous: LoadResult | list[Document], new: LoadResult) -> tuple[list[Document], list[Document]]:
    """`(documents, kept)`: the new valid documents plus, for every document that is now invalid (an error names its
    Kind/name, or its file could not be read or parsed), the previous version. Documents that were removed from the
    specs are not kept: deleting a document is a change, not a mistake."""
    old = previous if isinstance(previous, list) else previous.documents
    current = {d.key for d in new.documents}
    invalid = {(i.kind, i.name) for i in new.errors if i.kind and i.name}
    broken_files = {i.file for i in new.errors if not (i.kind and i.name)}
    kept = [d for d in old if d.key not in current and (d.key in invalid or d.source.file in broken_files)]
    return list(new.documents) + kept, kept
