"""Reading job records one by one, whatever one of them holds.

A JSON store file is one document, and Python's ``json`` parser is recursive: one record nested
3,000 levels deep makes ``json.loads`` of the *whole file* raise ``RecursionError``, and a record
holding ``NaN`` cannot be written back by a strict encoder. So that one bad record never takes
the others down, :func:`split_document` cuts the document into its top-level fields and the
verbatim text of each element of its ``"jobs"`` array without recursing (a scan from bracket to
bracket; strings are skipped by the C string scanner), and each record is then parsed alone. The
verbatim text is what a bad record is kept as, byte for byte.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

__all__ = ["RECORD_ERRORS", "record_id", "split_document"]

#: What parsing or validating one record may raise (a record is data from outside).
RECORD_ERRORS = (ValueError, TypeError, RecursionError, OverflowError)

_STRUCT = re.compile(r'["\[\]{}]')
_SCALAR_END = re.compile(r"[,\]}\s]")
_WS = re.compile(r"[ \t\n\r]*")
_LEADING_ID = re.compile(r'\{\s*"id"\s*:\s*("(?:[^"\\]|\\.)*")')
_VALUE_START = '"[{-0123456789tfnNI'  # NaN and Infinity: Python's json reads them


def _skip_ws(text: str, i: int) -> int:
    match = _WS.match(text, i)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _value_end(text: str, i: int) -> int:
    """The index just past the JSON value that starts at ``text[i]`` (iterative)."""
    first = text[i]
    if first == '"':
        end: int = scanstring(text, i + 1)[1]
        return end
    if first not in "[{":
        match = _SCALAR_END.search(text, i)
        return len(text) if match is None else match.start()
    depth = 0
    while True:
        match = _STRUCT.search(text, i)
        if match is None:
            raise ValueError(f"unterminated value starting at character {i}")
        char, i = match.group(), match.end()
        if char == '"':
            i = scanstring(text, i)[1]
        elif char in "[{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return i


def _expect(text: str, i: int, chars: str) -> str:
    if i >= len(text) or text[i] not in chars:
        found = repr(text[i]) if i < len(text) else "the end of the file"
        raise ValueError(
            f"expected {' or '.join(map(repr, chars))} at character {i}, found {found}"
        )
    return text[i]


def split_document(text: str) -> tuple[dict[str, Any], list[str] | None]:
    """The top-level fields of a store document (``"jobs"`` excepted) and the verbatim text of
    each element of its ``"jobs"`` array (None when it has no ``"jobs"`` array).

    Raises:
        ValueError: the text is not one JSON object (the message gives the position), or a
            top-level field other than ``"jobs"`` is not valid JSON.
    """
    fields: dict[str, Any] = {}
    jobs: list[str] | None = None
    i = _skip_ws(text, 0)
    _expect(text, i, "{")
    i = _skip_ws(text, i + 1)
    if _expect(text, i, '"}') == '"':
        while True:
            key, i = scanstring(text, i + 1)
            i = _skip_ws(text, i)
            _expect(text, i, ":")
            i = _skip_ws(text, i + 1)
            _expect(text, i, _VALUE_START)
            if key == "jobs" and text[i] == "[":
                jobs = []
                i = _skip_ws(text, i + 1)
                while _expect(text, i, "]" + _VALUE_START) != "]":
                    end = _value_end(text, i)
                    jobs.append(text[i:end])
                    i = _skip_ws(text, end)
                    if _expect(text, i, ",]") == ",":
                        i = _skip_ws(text, i + 1)
                i += 1
            else:
                end = _value_end(text, i)
                try:
                    fields[key] = json.loads(text[i:end])
                except RecursionError:
                    raise ValueError(f"field {key!r} is nested too deeply") from None
                i = end
            i = _skip_ws(text, i)
            if _expect(text, i, ",}") == "}":
                break
            i = _skip_ws(text, i + 1)
            _expect(text, i, '"')
    i = _skip_ws(text, i + 1)
    if i != len(text):
        raise ValueError(f"unexpected text after the document at character {i}")
    return fields, jobs


def record_id(text: str) -> str | None:
    """The id of a record that cannot be parsed, when its text starts with it (as asyncron
    writes records), else None."""
    match = _LEADING_ID.match(text)
    if match is None:
        return None
    try:
        value = json.loads(match.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str) else None
