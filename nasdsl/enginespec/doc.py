"""The settings tables of docs/ENGINES.md, made from the catalog so that the two agree:
`python -m nasdsl.enginespec.doc` prints them (tests/test_engine_settings.py compares)."""

from __future__ import annotations

from nasdsl.enginespec.catalog import ENGINES
from nasdsl.enginespec.schema import describe


def tables() -> str:
    out: list[str] = []
    for e in ENGINES.values():
        out += ["", f"**`{e.name}`**", "", "| setting | default | range | source |",
                "|---|---|---|---|"]
        for s in e.settings:
            default = describe(s.default)
            if s.scale is not None:
                default += f" of {s.scale[1]} epochs, scaled"
            if s.type in ("int", "float"):
                values = s.describe_range()
            else:
                values = "/".join(s.choices) if s.choices else "true/false"
            out.append(f"| `{s.name}` | {default} | {values} | {s.source} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(tables(), end="")
