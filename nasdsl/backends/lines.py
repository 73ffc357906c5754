"""Emitted statements as physical lines of at most 100 characters.

A statement that does not fit breaks after the opening bracket of its outermost call and
between that call's arguments (Python joins lines inside brackets). Every physical line
of it ends with the statement's spec position, so a reader who lands on any line of a
wrapped call sees where it came from.
"""

from __future__ import annotations

WIDTH = 100
CONTINUE = 4   # extra indent of a continuation line


def fit(code: str, comment: str, indent: int) -> str:
    """`code  # comment`, broken over lines when longer than WIDTH; continuation lines
    carry their own indentation, the first line gets the caller's."""
    tail = f"  # {comment}" if comment else ""
    if indent + len(code) + len(tail) <= WIDTH:
        return code + tail
    cuts = _cuts(code)
    if not cuts:
        return code + tail
    pad = " " * (indent + CONTINUE)
    lines: list[str] = []
    start, room = 0, WIDTH - indent - len(tail)
    while True:
        end = _last_fitting(code, cuts, start, room)
        if end is None or len(code) - start <= room:
            lines.append(code[start:].strip())
            break
        lines.append(code[start:end].rstrip())
        start, room = end, WIDTH - indent - CONTINUE - len(tail)
    return "\n".join([lines[0] + tail] + [pad + line + tail for line in lines[1:]])


def _cuts(code: str) -> list[int]:
    """Offsets where a line may break: after the first bracket that opens the outermost
    argument list, and after each `, ` directly inside it."""
    depth, level, cuts = 0, None, []
    for i, ch in enumerate(code):
        if ch in "([{":
            depth += 1
            if level is None and ch == "(":
                level = depth
                cuts.append(i + 1)
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == level and code[i + 1: i + 2] == " ":
            cuts.append(i + 2)
    return cuts


def _last_fitting(code: str, cuts: list[int], start: int, room: int) -> int | None:
    fitting = [c for c in cuts if start < c and c - start <= room]
    if fitting:
        return fitting[-1]
    later = [c for c in cuts if c > start]   # nothing fits: break as early as possible
    return later[0] if later else None
