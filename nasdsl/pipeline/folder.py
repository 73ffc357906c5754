"""The folder `nasdsl run` writes, as the other commands see it.

A pipeline folder (RUN/stages.json, no RUN/manifest.json) holds a search run in
RUN/search and a training run in RUN/train. Every command that takes a run accepts the
pipeline folder and reads the subfolder it needs: `infer`, `eval` and `export` the
trained run, `derive` the search; a user need not know the layout (issue #18.4).
"""

from __future__ import annotations

from pathlib import Path

from nasdsl.errors import UsageError

STAGES = "stages.json"
MANIFEST = "manifest.json"


def is_pipeline(path: str | Path) -> bool:
    p = Path(path)
    return (p / STAGES).is_file() and not (p / MANIFEST).is_file()


def stage_run(path: str | Path, stage: str) -> Path:
    """`path` itself, or its `stage` subfolder when `path` is a pipeline folder."""
    p = Path(path)
    if not is_pipeline(p):
        return p
    sub = p / stage
    if (sub / MANIFEST).is_file():
        return sub
    why = {"search": "its space decides every choice, so no search ran" if
           (p / "genotype.nas").is_file() else "its search has not run yet",
           "train": "its training has not finished"}.get(stage, f"it has no {stage}/ run")
    raise UsageError(f"{p} is a `nasdsl run` folder but {why} (no {sub / MANIFEST})")


__all__ = ["is_pipeline", "stage_run"]
