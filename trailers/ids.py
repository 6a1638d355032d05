"""Row ids from text: one rule for URLs, query strings, forms and the ids stored in a run's JSON."""

from __future__ import annotations

MAX_ID = 2**63 - 1  # the largest id a database integer column holds


def parse_id(value) -> int | None:
    """``value`` (text from a URL, a query string or a form) as a row id, or None if it cannot be one."""
    text = str(value).strip()
    if not (text.isascii() and text.isdecimal()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None
