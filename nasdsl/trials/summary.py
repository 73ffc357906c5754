"""What many trials say together: per trial and per group (genotype x setting), the mean
Dice over seeds x folds, its 95% confidence interval and the groups' rank. The metric is
the table's `rank_by`: validation Dice (the fold's validation cases, the default) or test
Dice (the dataset's held-out test cases).

The interval is Student's t (scipy.stats.t) over the group's trials: with 3 seeds it is
wide, as it should be. Rank 1 is the highest mean; groups without a finished trial are
unranked. Written as trials.csv (one row per trial), summary.csv (one per group),
summary.json (both) and summary.png.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

TRIAL_COLUMNS = ["id", "group", "genotype", "setting", "seed", "fold", "state", "val_dice",
                 "test_dice", "best_val_dice_training", "steps", "train_seconds", "attempts", "params",
                 "weights_sha256", "run_dir", "error"]
GROUP_COLUMNS = ["rank", "group", "n", "failed", "mean", "std", "ci95_low", "ci95_high",
                 "min", "max"]


def trial_rows(outcomes: list) -> list[dict[str, Any]]:
    rows = []
    for o in outcomes:
        rec = o.record or {}
        rows.append({"id": o.trial.id, "group": o.trial.group, "genotype": o.trial.genotype,
                     "setting": o.trial.setting, "seed": o.trial.seed, "fold": o.trial.fold,
                     "state": o.state, "val_dice": rec.get("val_dice"),
                     "test_dice": rec.get("test_dice"),
                     "best_val_dice_training": rec.get("best_val_dice_training"),
                     "steps": rec.get("steps"), "train_seconds": rec.get("train_seconds"),
                     "attempts": rec.get("attempts"), "params": rec.get("params"),
                     "weights_sha256": rec.get("weights_sha256"),
                     "run_dir": str(o.trial.out), "error": o.error})
    return rows


def _ci95(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return math.nan, math.nan
    from scipy.stats import t

    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values))
    return mean - half, mean + half


METRICS = {"val_dice": "val_dice: mean foreground Dice on the fold's validation cases "
                       "(nasdsl eval RUN --cases val)",
           "test_dice": "test_dice: mean foreground Dice on the dataset's held-out test "
                        "cases (nasdsl eval RUN --cases test)"}


def metric_of(outcomes: list) -> str:
    """The table's ranking metric (every trial of a table carries the same)."""
    return outcomes[0].trial.metric if outcomes else "val_dice"


def groups(outcomes: list) -> list[dict[str, Any]]:
    """One row per genotype x setting, best mean first."""
    metric = metric_of(outcomes)
    by: dict[str, list] = {}
    for o in outcomes:
        by.setdefault(o.trial.group, []).append(o)
    rows = []
    for name, members in by.items():
        values = [o.record[metric] for o in members if o.state != "failed"
                  and isinstance((o.record or {}).get(metric), (int, float))
                  and not math.isnan(o.record[metric])]
        row: dict[str, Any] = {"group": name, "n": len(values),
                               "failed": sum(o.state == "failed" for o in members),
                               "mean": None, "std": None, "ci95_low": None,
                               "ci95_high": None, "min": None, "max": None, "rank": None,
                               "values": values}
        if values:
            mean = sum(values) / len(values)
            sd = (math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
                  if len(values) > 1 else math.nan)
            lo, hi = _ci95(values)
            row.update(mean=mean, std=sd, ci95_low=lo, ci95_high=hi, min=min(values),
                       max=max(values))
        rows.append(row)
    ranked = sorted((r for r in rows if r["mean"] is not None), key=lambda r: -r["mean"])
    for r in ranked:  # ties share the better rank
        r["rank"] = 1 + sum(o["mean"] > r["mean"] for o in ranked)
    return ranked + [r for r in rows if r["mean"] is None]


def summarize(outcomes: list) -> dict[str, Any]:
    metric = metric_of(outcomes)
    return {"metric": METRICS[metric], "rank_by": metric.removesuffix("_dice"),
            "trials": trial_rows(outcomes),
            "groups": groups(outcomes)}


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k)) for k in columns})
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return "" if v is None else v


def write(summary: dict[str, Any], out: Path) -> list[Path]:
    from nasdsl.runs import atomic_write_bytes

    paths = [out / "trials.csv", out / "summary.csv", out / "summary.json"]
    atomic_write_bytes(paths[0], _csv(summary["trials"], TRIAL_COLUMNS).encode())
    atomic_write_bytes(paths[1], _csv(summary["groups"], GROUP_COLUMNS).encode())
    atomic_write_bytes(paths[2], json.dumps(_clean(summary), indent=1).encode())
    paths.append(plot(summary, out / "summary.png"))
    return paths


def _clean(v: Any) -> Any:
    """JSON has no NaN: an undefined value (a CI of one trial) is null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def table(summary: dict[str, Any]) -> str:
    """The printed table: one row per group, ranked."""
    what = summary.get("rank_by", "val")
    head = ["rank", "genotype [setting]", "n", f"mean {what} Dice", "95% CI", "min", "max",
            "failed"]
    rows = [head]
    for g in summary["groups"]:
        ci = ("n/a" if g["ci95_low"] is None or math.isnan(g["ci95_low"])
              else f"{g['ci95_low']:.4f} .. {g['ci95_high']:.4f}")
        rows.append([str(g["rank"] or "-"), g["group"], str(g["n"]), _f(g["mean"]), ci,
                     _f(g["min"]), _f(g["max"]), str(g["failed"])])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in rows) + "\n"


def _f(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def plot(summary: dict[str, Any], path: Path) -> Path:
    """Each group's trials as dots and its mean with the 95% CI, best first."""
    from nasdsl.figures import pyplot, save_png

    plt = pyplot()
    ranked = [g for g in summary["groups"] if g["values"]]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(ranked) + 2), 3.8))
    for x, g in enumerate(ranked):
        vals = g["values"]
        step = min(0.06, 0.5 / len(vals))  # spread the dots, never into the next group
        jitter = [(i - (len(vals) - 1) / 2) * step for i in range(len(vals))]
        ax.scatter([x + j for j in jitter], vals, s=14, color="0.55", zorder=2,
                   label="one trial" if x == 0 else None)
        lo, hi = g["ci95_low"], g["ci95_high"]
        err = None if lo is None or math.isnan(lo) else [[g["mean"] - lo], [hi - g["mean"]]]
        ax.errorbar([x], [g["mean"]], yerr=err, fmt="o", color="C0", capsize=5, zorder=3,
                    label="mean, 95% CI" if x == 0 else None)
    ax.set_xlim(-0.6, len(ranked) - 0.4)
    ax.set_xticks(range(len(ranked)))
    ax.set_xticklabels([f"{g['rank']}. {g['group']}" for g in ranked], rotation=30,
                       ha="right", fontsize=8)
    what = {"val": "validation"}.get(summary.get("rank_by", "val"), "test")
    ax.set_ylabel(f"{what} Dice (mean of classes)")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set_title("trials: each genotype over its seeds x folds", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    if ranked:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
    return path


__all__ = ["summarize", "groups", "write", "table", "plot"]
