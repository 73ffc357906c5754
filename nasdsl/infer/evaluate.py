"""`nasdsl eval`: score a model (run directory or .onnx) or a folder of predictions
against a dataset's labels, per case and class, on the original image grid."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Sequence


from nasdsl.api import UsageError
from nasdsl.runs import is_run_dir
from nasdsl.safe_text import for_csv, for_terminal
from nasdsl.train.metrics import METRICS, CaseScores, case_scores, mean_scores


def evaluate(source: str | Path, data: str | Path, cases: str = "auto", tta: bool = False,
             tolerance_mm: float = 1.0, progress: bool = True
             ) -> tuple[list[CaseScores], list[str]]:
    """Scores of the chosen cases, and the class names (index 0 = background)."""
    from nasdsl import data as D

    index = D.load_dataset(data)
    src = Path(source)
    chosen = _cases(index, src, cases)
    if not chosen:
        raise UsageError(f"{data}: no labelled cases to evaluate")
    predict = _predictor(src, index)
    scores = []
    for case in _bar(chosen, progress):
        loaded = D.load_case(index, case)
        pred = predict(case, loaded, tta)
        scores.append(case_scores(case.id, pred, loaded.label[0], index.num_classes,
                                  loaded.geometry.spacing, tolerance_mm))
    return scores, list(index.label_names)


def run_dataset(src: Path) -> str:
    """The dataset a run trained on (eval's default --data for a run directory)."""
    from nasdsl.runs import RunDir

    if not is_run_dir(src):
        raise UsageError(f"{src} is not a run directory: give the labelled dataset "
                         "with --data")
    root = RunDir(src).manifest().get("data", {})
    root = root.get("root") if isinstance(root, dict) else None
    if not isinstance(root, str):
        raise UsageError(f"{src / 'manifest.json'}: names no dataset (data.root); "
                         "give it with --data")
    return root


def _cases(index: Any, src: Path, which: str) -> list[Any]:
    labelled = [c for c in index.cases if c.label is not None]
    if which == "test":
        return [c for c in index.test_cases if c.label is not None]
    if which == "auto" and src.is_dir() and not is_run_dir(src):
        return _predicted(index, src)
    if which == "all" or which == "auto" and not is_run_dir(src):
        return labelled
    if which in ("auto", "val"):
        from nasdsl.runs import RunDir

        if not is_run_dir(src):
            raise UsageError(f"--cases val needs a run directory; {src} is not one")
        val = set(RunDir(src).manifest()["split"]["val"])
        return [c for c in labelled if c.id in val]
    wanted = set(which.split(","))
    labelled += [c for c in index.test_cases if c.label is not None]
    missing = wanted - {c.id for c in labelled}
    if missing:
        raise UsageError(f"--cases: no labelled case {sorted(missing)[0]!r} in the dataset")
    return [c for c in labelled if c.id in wanted]


def _predicted(index: Any, folder: Path) -> list[Any]:
    """A folder of predictions: the labelled cases (training or test) it has a file for
    (`nasdsl infer` on imagesTs/ makes test-case predictions, not training ones)."""
    every = [c for c in tuple(index.cases) + tuple(index.test_cases) if c.label is not None]
    found = [c for c in every if _has_prediction(folder, c.id)]
    if not found:
        raise UsageError(f"{folder}: no prediction named like a labelled case of the "
                         f"dataset (e.g. {every[0].id}.nii.gz)" if every else
                         f"{folder}: the dataset has no labelled case")
    return found


def _has_prediction(folder: Path, case_id: str) -> bool:
    from nasdsl.data.imageio import IMAGE_SUFFIXES

    return any((folder / f"{case_id}{suffix}").is_file() for suffix in IMAGE_SUFFIXES)


def _predictor(src: Path, index: Any):
    """case -> class-index map: from a model, or read from a predictions folder."""
    if src.suffix == ".onnx" or is_run_dir(src):
        from nasdsl.infer.predict import open_model, segment_indices

        model = open_model(src)
        return lambda case, loaded, tta: segment_indices(model, loaded.image,
                                                         loaded.geometry, tta,
                                                         source=case.images[0])
    if not src.is_dir():
        raise UsageError(f"{src}: give a run directory, an .onnx model or a folder of "
                         "predictions named like the cases")

    def read_prediction(case, loaded, tta):
        from nasdsl.data import DataError, read_image
        from nasdsl.data.index import remap_labels

        path = _prediction_file(src, case.id)
        raw, _ = read_image(path)
        seg = remap_labels(raw[0], index, path)
        if seg.ndim == loaded.label.ndim and seg.shape[-1] == 1:
            seg = seg[..., 0]  # a 2D map stored as an (x, y, 1) volume
        if seg.shape != loaded.label.shape[1:]:
            raise DataError(path, f"shape {seg.shape} differs from the label's "
                                  f"{loaded.label.shape[1:]}")
        return seg
    return read_prediction


def _prediction_file(folder: Path, case_id: str) -> Path:
    from nasdsl.data.imageio import IMAGE_SUFFIXES

    for suffix in IMAGE_SUFFIXES:
        p = folder / f"{case_id}{suffix}"
        if p.is_file():
            return p
    raise UsageError(f"{folder}: no prediction for case `{case_id}` "
                     f"(expected {case_id}.nii.gz or another image suffix)")


def _bar(items: list, progress: bool):
    if not progress or len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="eval", unit="case")


# ---- report --------------------------------------------------------------------------------
def to_csv(scores: Sequence[CaseScores], names: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["case", "class", "name", *METRICS])
    rows = [(cs.case, cs.scores) for cs in scores] + [("mean", mean_scores(scores))]
    for case, table in rows:
        for c in sorted(table["dice"]):
            w.writerow([for_csv(case), c, for_csv(names[c]),
                        *(_fmt(table[m][c]) for m in METRICS)])
    return buf.getvalue()


def render_table(scores: Sequence[CaseScores], names: Sequence[str]) -> str:
    means = mean_scores(scores)
    header = f"{'case':<20} {'class':<16}" + "".join(f"{m:>13}" for m in METRICS)
    lines = [header, "-" * len(header)]
    rows = [(cs.case, cs.scores) for cs in scores] + [("mean", means)]
    for case, table in rows:
        if case == "mean":
            lines.append("-" * len(header))
        for c in sorted(table["dice"]):
            lines.append(f"{for_terminal(case)[:20]:<20} {for_terminal(names[c])[:16]:<16}"
                         + "".join(f"{_fmt(table[m][c]):>13}" for m in METRICS))
    return "\n".join(lines)


def _fmt(v: float) -> str:
    return "n/a" if math.isnan(v) else "inf" if math.isinf(v) else f"{v:.4f}"


__all__ = ["evaluate", "to_csv", "render_table"]
