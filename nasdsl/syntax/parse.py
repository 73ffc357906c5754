"""Text -> AST. Lark errors become diagnostics; several syntax errors per run."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, \
    UnexpectedToken

from nasdsl.diagnostics import DiagnosticSink
from nasdsl.paths import data_dir
from nasdsl.source import SourceFile, Span
from nasdsl.spec_files import MAX_SPEC_BYTES
from nasdsl.syntax import ast as A
from nasdsl.syntax.build import AstBuilder

MAX_SYNTAX_ERRORS = 10
MAX_NESTING = 100
MAX_SOURCE_BYTES = MAX_SPEC_BYTES


def grammar_path() -> Path:
    return data_dir("grammars") / "nas.lark"


@lru_cache(maxsize=1)
def parser() -> Lark:
    return Lark(grammar_path().read_text(), parser="lalr", propagate_positions=True,
                maybe_placeholders=True, cache=False)


# Human names for terminals in "expected ..." messages.
_HUMAN = {"NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
          "COMP_OP": "a comparison", "ADD_OP": "`+` or `-`", "MUL_OP": "`*` or `/`",
          "$END": "end of file", "POW": "`**`"}


def _human(term: str) -> str:
    if term in _HUMAN:
        return _HUMAN[term]
    for t in parser().terminals:
        if t.name == term and t.pattern.type == "str":
            return f"`{t.pattern.value}`"
    return term.lower()


def _expected(names: set[str]) -> str:
    if {"LET", "PARAM", "CHOICE"} <= names:  # at a statement boundary
        return "a statement (or `}`)" if "RBRACE" in names else "a statement"
    shown = sorted({_human(n) for n in names})
    if len(shown) > 8:
        shown = shown[:8] + ["..."]
    return ", ".join(shown)


def load_source(path: str, data: bytes, sink: DiagnosticSink) -> SourceFile | None:
    """Decode a spec file; binary garbage gets a diagnostic, not a traceback."""
    if len(data) > MAX_SOURCE_BYTES:
        sink.error("E0001", f"file is too large ({len(data)} bytes)", None,
                   f"{path}: specs are limited to {MAX_SOURCE_BYTES} bytes")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = SourceFile(path, data[: exc.start].decode("utf-8", "replace"))
        sink.error("E0001", "file is not valid UTF-8 text",
                   Span(good, len(good.text), len(good.text)),
                   "a .nas spec is a UTF-8 text file")
        return None
    if "\x00" in text:
        src = SourceFile(path, text)
        at = text.index("\x00")
        sink.error("E0001", "file contains a NUL byte (is it binary?)", Span(src, at, at + 1))
        return None
    return SourceFile(path, text)


def parse(source: SourceFile, sink: DiagnosticSink) -> A.Unit | None:
    """Parse a whole file; returns None when there were syntax errors (all reported)."""
    if not _check_nesting(source, sink):
        return None
    errors: list[UnexpectedInput] = []

    def on_error(exc: UnexpectedInput) -> bool:
        errors.append(exc)
        if len(errors) >= MAX_SYNTAX_ERRORS or isinstance(exc, UnexpectedEOF):
            return False
        _repair(exc)
        return True

    comments: list[tuple[int, str]] = []
    try:
        tree = parser().parse(source.text, on_error=on_error)
    except UnexpectedInput as exc:
        if not errors or errors[-1] is not exc:
            errors.append(exc)
        tree = None
    except RecursionError:
        sink.error("E0004", "spec is too deeply nested", Span(source, 0, 0))
        return None
    for exc in _dedupe(errors):
        _report(source, exc, sink)
    if errors or tree is None:
        return None
    builder = AstBuilder(source, sink)
    try:
        unit = builder.build(tree)
    except RecursionError:
        sink.error("E0004", "expression is too deeply nested", Span(source, 0, 0),
                   "split it with `let` bindings")
        return None
    comments = _comments(source.text)
    return A.Unit(unit.kind, unit.name, unit.body, unit.space_path, unit.span,
                  tuple(comments))


def _repair(exc: UnexpectedInput) -> None:
    """When exactly one punctuation token would fit (`param C 32`: a missing `=`), insert
    it so that parsing resumes in step and the next lines get no cascade of errors."""
    if not isinstance(exc, UnexpectedToken) or exc.interactive_parser is None:
        return
    expected = [t for t in exc.expected if not t.startswith("$")]
    if len(expected) != 1:
        return
    for term in parser().terminals:
        if term.name == expected[0] and term.pattern.type == "str":
            try:
                exc.interactive_parser.feed_token(Token(term.name, term.pattern.value))
                exc.interactive_parser.feed_token(exc.token)  # then the token itself
            except UnexpectedInput:
                pass
            return


def _dedupe(errors: list[UnexpectedInput]) -> list[UnexpectedInput]:
    seen: set[int] = set()
    out = []
    for e in errors:
        line = getattr(e, "line", 0)
        if line in seen:
            continue
        seen.add(line)
        out.append(e)
    return out


def _report(source: SourceFile, exc: UnexpectedInput, sink: DiagnosticSink) -> None:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = source.text[pos] if pos < len(source.text) else ""
        sink.error("E0002", f"unexpected character {ch!r}", Span(source, pos, pos + 1),
                   _char_hint(ch))
        return
    if isinstance(exc, UnexpectedEOF):
        end = len(source.text)
        sink.error("E0003", "unexpected end of file",
                   Span(source, max(0, end - 1), end),
                   f"expected {_expected(set(exc.expected))}; is a `}}` missing?")
        return
    assert isinstance(exc, UnexpectedToken)
    tok: Token = exc.token
    if tok.type == "$END":
        end = len(source.text)
        sink.error("E0003", "unexpected end of file", Span(source, max(0, end - 1), end),
                   f"expected {_expected(set(exc.expected))}; is a `}}` missing?")
        return
    start = tok.start_pos or 0
    span = Span(source, start, max(start + 1, tok.end_pos or start + 1))
    sink.error("E0003", f"unexpected {_describe_token(tok)}", span,
               f"expected {_expected(set(exc.expected))}")


def _describe_token(tok: Token) -> str:
    if tok.type == "NAME":
        return f"name `{tok}`"
    if tok.type in ("INT", "FLOAT"):
        return f"number `{tok}`"
    return f"`{tok}`"


def _char_hint(ch: str) -> str | None:
    if ch == "'":
        return "strings use double quotes"
    if ch == ";":
        return "statements need no `;`: put them on separate lines"
    if ch == ":":
        return "a `:` appears only in `from NAME: opset` clauses of a `nodes` block"
    return None


def _check_nesting(source: SourceFile, sink: DiagnosticSink) -> bool:
    depth = 0
    in_comment = in_string = False
    for i, ch in enumerate(source.text):
        if in_comment:
            in_comment = ch != "\n"
        elif in_string:
            in_string = ch not in '"\n'
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "([{":
            depth += 1
            if depth > MAX_NESTING:
                sink.error("E0004", f"brackets nested more than {MAX_NESTING} deep",
                           Span(source, i, i + 1), "split the expression with `let`")
                return False
        elif ch in ")]}":
            depth -= 1
    return True


def _comments(text: str) -> list[tuple[int, str]]:
    """(offset, text) of every comment, for the formatter to keep."""
    out = []
    in_string = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            in_string = ch not in '"\n'
        elif ch == '"':
            in_string = True
        elif ch == "#":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append((i, text[i:end].rstrip()))
            i = end
            continue
        i += 1
    return out
