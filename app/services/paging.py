"""privacyIDEA-style paging: current, next and prev page numbers."""

from __future__ import annotations


def neighbours(total: int, page: int, pagesize: int) -> tuple[int | None, int | None]:
    """The next and previous page numbers (None where there is none)."""
    last = max(1, -(-total // pagesize))
    return (page + 1 if page < last else None, page - 1 if page > 1 else None)
