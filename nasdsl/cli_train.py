"""Commands `train`, `eval`, `infer`, `export` (registered on the main group by cli.py).

Data and run-directory mistakes are usage errors (exit 2, one line naming the file); a
training run stopped by a NaN/Inf loss exits 1 with what was kept (nasdsl.errors: the
classes carry their exit codes; cli.guard maps them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click



def _size(text: str | None) -> list[int] | None:
    from nasdsl.api import parse_size

    return list(parse_size(text)) if text else None


def add_commands(main: click.Group, run_guarded: Callable, define_option: Callable) -> None:
    main.add_command(_train_command(run_guarded, define_option))
    main.add_command(_eval_command(run_guarded))
    main.add_command(_infer_command(run_guarded))
    main.add_command(_export_command(run_guarded))


# ---- train -------------------------------------------------------------------------------
def train_options(f: Callable) -> Callable:
    """`nasdsl train`'s options on a click command (`nasdsl trials` reuses them to check a
    [train] table the way the command line would)."""
    opts = [
        click.option("--data", type=click.Path(), help="Dataset folder (MSD, nnU-Net v2, "
                     "2D pairs, MHD, DICOM; see `nasdsl data`)."),
        click.option("--out", "out", type=click.Path(file_okay=False), required=True,
                     help="Run directory (created; with --resume, continued)."),
        click.option("--resume", is_flag=True, help="Continue the run in --out from its "
                     "newest complete checkpoint (settings come from its manifest)."),
        click.option("--epochs", type=click.IntRange(min=1), default=50, show_default=True),
        click.option("--steps-per-epoch", type=click.IntRange(min=1), default=250,
                     show_default=True, help="Global batches per epoch (nnU-Net: 250)."),
        click.option("--batch", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Global batch size (split over torchrun processes)."),
        click.option("--patch", metavar="SIZE", help="Training patch / sliding window, "
                     "e.g. 128x128 (default: the dataset's suggestion); rounded up to the "
                     "network's stride multiple."),
        click.option("--optimizer", type=click.Choice(["adamw", "sgd"]), default="adamw",
                     show_default=True),
        click.option("--lr", type=float, default=None,
                     help="Learning rate (default 1e-3 AdamW, 1e-2 SGD)."),
        click.option("--weight-decay", type=float, default=3e-5, show_default=True),
        click.option("--schedule", type=click.Choice(["poly", "cosine", "constant"]),
                     default="poly", show_default=True),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]),
                     default="auto", show_default=True,
                     help="auto: bf16 autocast + channels-last on CUDA, fp32 on CPU."),
        click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA if "
                     "available; under torchrun the local rank's GPU)."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--fold", type=click.IntRange(min=0), default=0, show_default=True),
        click.option("--folds", type=click.IntRange(min=1), default=5, show_default=True,
                     help="k of the k-fold split (1: train and validate on every case)."),
        click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
                     help="DataLoader worker processes."),
        click.option("--checkpoint-every", type=click.IntRange(min=0), default=50,
                     show_default=True, help="Steps between mid-epoch checkpoints (0: "
                     "only at epoch ends)."),
        click.option("--val-every", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Epochs between validations."),
        click.option("--time-budget", type=click.FloatRange(min=0), default=None,
                     help="Stop after this many seconds of training steps."),
        click.option("--mode", type=click.Choice(["sliding", "whole"]), default="sliding",
                     show_default=True, help="Validation/inference: sliding window or "
                     "RONASMIS's one-shot whole volume."),
        click.option("--no-augment", is_flag=True, help="Train on plain patches."),
        click.option("--init-from", type=click.Path(exists=True),
                     help="Initial weights: a state dict (e.g. from a search), a checkpoint "
                     "or a run directory."),
        click.option("--no-progress", is_flag=True, help="No progress bars."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _train_command(run_guarded: Callable, define_option: Callable) -> click.Command:
    @click.command(name="train")
    @click.argument("spec", type=click.Path(dir_okay=False), required=False)
    @define_option
    @train_options
    def train(spec: str | None, defines: tuple[str, ...], **kw: Any) -> None:
        """Train a genotype or arch on a dataset (Dice + CE; checkpoints, JSONL metrics)."""
        def go() -> int:
            from nasdsl.pipeline.machine import machine_report
            from nasdsl.train.session import train as run_train

            request = train_request(spec, defines, kw)
            click.echo(machine_report()["line"], err=True)  # threads by load, recorded
            result = run_train(request, resume=kw["resume"])
            pos = result.position
            best = "n/a" if pos.best == float("-inf") else f"{pos.best:.4f}"
            click.echo(f"trained {pos.global_step} steps ({pos.epoch} epochs, stopped by "
                       f"{result.stopped.replace('_', ' ')}); best validation Dice {best}; "
                       f"checkpoints in {Path(kw['out']) / 'checkpoints'}")
            return 0
        run_guarded(go)
    return train


def train_request(spec: str | None, defines: tuple[str, ...], kw: dict[str, Any]):
    """The TrainRequest that `nasdsl train` runs for these parsed options."""
    from nasdsl.api import UsageError
    from nasdsl.train.loop import TrainConfig
    from nasdsl.train.session import TrainRequest

    if not kw["resume"] and (spec is None or kw["data"] is None):
        raise UsageError("train needs SPEC and --data (or --resume with --out RUN)")
    lr = kw["lr"] if kw["lr"] is not None else (1e-2 if kw["optimizer"] == "sgd" else 1e-3)
    config = TrainConfig(epochs=kw["epochs"], steps_per_epoch=kw["steps_per_epoch"],
                         batch_size=kw["batch"], optimizer=kw["optimizer"], lr=lr,
                         weight_decay=kw["weight_decay"], schedule=kw["schedule"],
                         seed=kw["seed"], workers=kw["workers"],
                         checkpoint_every=kw["checkpoint_every"], val_every=kw["val_every"],
                         time_budget=kw["time_budget"], progress=not kw["no_progress"])
    return TrainRequest(spec or "", kw["data"] or "", kw["out"], list(defines), config,
                        _size(kw["patch"]), None, kw["fold"], kw["folds"],
                        not kw["no_augment"], kw["mode"], 0.5, kw["precision"],
                        kw["device"], kw["init_from"])


# ---- eval ---------------------------------------------------------------------------------
def _eval_command(run_guarded: Callable) -> click.Command:
    @click.command(name="eval")
    @click.argument("source", type=click.Path(exists=True))
    @click.option("--data", type=click.Path(), default=None,
                  help="Dataset with labels (default for a run: the dataset it trained on).")
    @click.option("--cases", default="auto", show_default=True,
                  help="val (a run's validation split), all (training cases), test "
                       "(labelled test cases), or comma-separated ids; auto: val for a run "
                       "directory, the cases that have a prediction for a folder of them, "
                       "all otherwise.")
    @click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
                  help="Write per-case rows and the mean (default: SOURCE/eval.csv for a "
                       "run; nothing for a model file or a folder of predictions).")
    @click.option("--tta", is_flag=True, help="Flip test-time augmentation.")
    @click.option("--tolerance", type=float, default=1.0, show_default=True,
                  help="Surface Dice tolerance in mm.")
    @click.option("--no-progress", is_flag=True)
    def eval_(source: str, data: str | None, cases: str, csv_path: str | None, tta: bool,
              tolerance: float, no_progress: bool) -> None:
        """Per-case, per-class Dice, IoU, HD95 and surface Dice (MONAI) of a run (or the
        folder `nasdsl run` writes), an .onnx model or a folder of predictions."""
        def go() -> int:
            from nasdsl.infer.evaluate import evaluate, render_table, run_dataset, to_csv
            from nasdsl.outputs import check_output_outside
            from nasdsl.pipeline.folder import stage_run
            from nasdsl.runs import atomic_write_bytes, is_run_dir

            src = stage_run(source, "train")  # a `nasdsl run` folder: its trained run
            is_run = is_run_dir(src)
            dataset = data or run_dataset(src)
            if csv_path:   # before scoring: never over a dataset or prediction file
                check_output_outside(Path(csv_path), dataset, "the dataset", "--csv")
                if src.is_dir() and not is_run:
                    check_output_outside(Path(csv_path), src, "the prediction folder",
                                         "--csv")
            scores, names = evaluate(src, dataset, cases, tta, tolerance, not no_progress)
            click.echo(render_table(scores, names))
            target = Path(csv_path) if csv_path else (src / "eval.csv" if is_run else None)
            if target is None:  # never into the working directory unasked
                click.echo("(per-case rows as CSV: --csv FILE)")
                return 0
            atomic_write_bytes(target, to_csv(scores, names).encode())
            click.echo(f"wrote {target}")
            return 0
        run_guarded(go)
    return eval_


# ---- infer --------------------------------------------------------------------------------
def _infer_command(run_guarded: Callable) -> click.Command:
    @click.command(name="infer")
    @click.argument("model", type=click.Path(exists=True))
    @click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
    @click.option("--out", "out", type=click.Path(file_okay=False), required=True)
    @click.option("--mode", type=click.Choice(["sliding", "whole"]), default=None,
                  help="Override the run's mode: sliding window or one-shot whole volume.")
    @click.option("--tta", is_flag=True, help="Average over flips of every axis.")
    @click.option("--device", default=None, help="cpu or cuda (default: CUDA if present).")
    @click.option("--no-progress", is_flag=True)
    def infer(model: str, inputs: tuple[str, ...], out: str, mode: str | None, tta: bool,
              device: str | None, no_progress: bool) -> None:
        """Segment images with a run directory (or the folder `nasdsl run` writes) or an
        exported .onnx (+ sidecar); outputs keep each input's geometry."""
        def go() -> int:
            from nasdsl.outputs import check_output_dir
            from nasdsl.pipeline.folder import stage_run

            check_output_dir(Path(out), inputs)   # never a segmentation over its scan
            if model.endswith(".onnx"):   # a bad sidecar is refused before torch loads
                from nasdsl.data.admit import admit_file
                from nasdsl.sidecars import read_sidecar

                admit_file(model, Path(model).parent)
                read_sidecar(Path(model))
            from nasdsl.infer.predict import infer_files, open_model

            loaded = open_model(stage_run(model, "train"), device)
            written = infer_files(loaded, inputs, Path(out), tta, mode, not no_progress)
            for p in written:
                click.echo(f"wrote {p}")
            click.echo(f"{len(written)} case(s) with {loaded.backend}")
            return 0
        run_guarded(go)
    return infer


# ---- export -------------------------------------------------------------------------------
def _export_command(run_guarded: Callable) -> click.Command:
    @click.command(name="export")
    @click.argument("run", type=click.Path(exists=True, file_okay=False))
    @click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
                  help="model.onnx (the sidecar model.onnx.json is written beside it).")
    @click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best",
                  show_default=True)
    def export(run: str, output: str, checkpoint: str) -> None:
        """Export a run's (or a `nasdsl run` folder's) trained network to ONNX (verified
        against PyTorch) with a JSON sidecar of its preprocessing, classes and hashes."""
        def go() -> int:
            from nasdsl.infer.export import export_run
            from nasdsl.pipeline.folder import stage_run

            click.echo(export_run(stage_run(run, "train"), Path(output), checkpoint))
            return 0
        run_guarded(go)
    return export


__all__ = ["add_commands"]
