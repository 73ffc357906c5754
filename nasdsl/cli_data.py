"""`nasdsl data ...`: inspect a dataset, write the built-in datasets.

Commands import nasdsl.data (numpy, nibabel, torch, MONAI) only when they run, so the
front end (`check`, `fmt`) stays free of them. DataError -> `error: <file>: <what>`, exit 2
(a UsageError: mapped by cli_guard.guard). The built-in datasets are written whole and swapped
in (outputs.write_dir_atomic): a folder nasdsl did not write is never replaced.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from nasdsl.cli_guard import run_guarded


layout_option = click.option(
    "--layout", type=click.Choice(["msd", "nnunet", "pairs2d", "mhd", "dicom"]), default=None,
    help="Dataset layout (default: detected).")


@click.group()
def data() -> None:
    """Datasets: inspect one, or write a built-in one (nothing is downloaded)."""


@data.command()
@click.argument("directory", type=click.Path(file_okay=False))
@layout_option
@click.option("--json", "as_json", is_flag=True, help="Print the fingerprint as JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Also write the fingerprint JSON to this file.")
def inspect(directory: str, layout: str | None, as_json: bool, output: str | None) -> None:
    """Fingerprint a dataset as nnU-Net does and suggest patch sizes (incl. RONASMIS)."""

    def go() -> int:
        from nasdsl.data import fingerprint, load_dataset
        from nasdsl.outputs import check_output_outside

        if output:   # before the scan: never over the dataset's own dataset.json
            check_output_outside(Path(output), directory, "the dataset")
        index = load_dataset(directory, layout)
        with _progress("fingerprint") as tick:
            fp = fingerprint(index, progress=tick)
        if output:
            from nasdsl.outputs import write_atomic

            write_atomic(Path(output), json.dumps(fp, indent=1) + "\n")
        click.echo(json.dumps(fp, indent=1) if as_json else render(fp))
        return 0

    run_guarded(go)


def render(fp: dict[str, Any]) -> str:
    """The fingerprint for people: one fact per line."""
    from nasdsl.safe_text import for_terminal as t

    ds = fp["dataset"]
    fmt = _fmt_list
    lines = [
        f"{t(ds['name'])} ({ds['layout']} layout, {ds['dims']}D): {fp['num_cases']} training "
        f"case(s), {ds['num_test']} test case(s)",
        f"  channels:        {', '.join(t(c) for c in ds['channel_names'])}",
        "  labels:          " + ", ".join(f"{v}={t(n)}" for v, n in
                                          zip(ds["label_values"], ds["label_names"])),
        f"  median spacing:  {fmt(fp['median_spacing'])} mm",
        f"  target spacing:  {fmt(fp['target_spacing'])} mm"
        + ("  (anisotropic)" if fp["anisotropic"] else ""),
        f"  median shape:    {fmt(fp['median_shape'])} (after crop), "
        f"{fmt(fp['median_shape_at_target_spacing'])} at target spacing",
        f"  crop keeps:      {100 * fp['median_relative_size_after_cropping']:.1f} % of the "
        "voxels (median)",
        "  class fractions: " + ", ".join(f"{t(n)} {100 * f:.2f} %"
                                          for n, f in fp["class_fractions"].items()),
    ]
    for name, st in fp["foreground_intensity_properties_per_channel"].items():
        lines.append(f"  foreground {t(name)}: mean {st['mean']:.4g}, std {st['std']:.4g}, "
                     f"median {st['median']:.4g}, p0.5 {st['percentile_00_5']:.4g}, "
                     f"p99.5 {st['percentile_99_5']:.4g}, range [{st['min']:.4g}, {st['max']:.4g}]")
    r = fp["ronasmis"]
    lines += [
        f"  suggested patch: {'x'.join(map(str, fp['suggested_patch_size']))} "
        "(median shape at target spacing, up to multiples of 16, within a voxel budget)",
        f"  RONASMIS patch:  H/W {r['patch_hw']}" + (f", D {r['patch_d']}" if "patch_d" in r else "")
        + " (Eq. 1-2 from the median size)",
        f"  for specs/ronasmis.nas: {r['defines']}",
    ]
    return "\n".join(lines)


def _fmt_list(values: list[float]) -> str:
    return " x ".join(f"{v:.4g}" for v in values)


class _progress:
    """A rich progress bar on stderr while a long scan runs (quiet when not a terminal)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return lambda done, total: None
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task(self.label, total=None)
        return lambda done, total: self.bar.update(task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@data.command()
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Where to write the dataset (MSD layout).")
@click.option("--dims", type=click.Choice(["2", "3"]), default="3", show_default=True)
@click.option("--cases", type=click.IntRange(min=1), default=8, show_default=True,
              help="Training cases.")
@click.option("--tests", type=click.IntRange(min=0), default=2, show_default=True,
              help="Held-out test cases (imagesTs/ + labelsTs/).")
@click.option("--size", type=click.IntRange(min=16), default=64, show_default=True,
              help="In-plane size in voxels (depth: a third of it in 3D).")
@click.option("--seed", type=int, default=0, show_default=True)
def synth(out: str, dims: str, cases: int, tests: int, size: int, seed: int) -> None:
    """Write deterministic synthetic phantoms (4 classes, noise, bias, anisotropic)."""

    def go() -> int:
        from nasdsl.data import make_synthetic_dataset
        from nasdsl.outputs import write_dir_atomic

        with _progress("phantoms") as tick:
            write_dir_atomic(Path(out), lambda d: make_synthetic_dataset(
                d, int(dims), cases, tests, seed, size, tick), "a synthetic dataset")
        click.echo(f"wrote {cases} training + {tests} test phantoms: "
                   f"{Path(out) / 'dataset.json'}")
        return 0

    run_guarded(go)


@data.command()
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Where to write the dataset (MSD layout).")
@click.option("--cases", type=click.IntRange(min=1), default=12, show_default=True,
              help="Training cases.")
@click.option("--tests", type=click.IntRange(min=0), default=4, show_default=True,
              help="Held-out test cases (imagesTs/ + labelsTs/).")
@click.option("--resolution", type=click.FloatRange(min=1.0, max=16.0), default=2.0,
              show_default=True, help="In-plane voxel size in mm (2 mm: ~99x117x95).")
@click.option("--dims", type=click.Choice(["2", "3"]), default="3", show_default=True,
              help="2: one axial slice per case instead of the volume.")
@click.option("--seed", type=int, default=0, show_default=True)
def mni(out: str, cases: int, tests: int, resolution: float, dims: str, seed: int) -> None:
    """Write the brain-tissue task derived from nilearn's MNI ICBM152 template (offline)."""

    def go() -> int:
        from nasdsl.data import make_mni_dataset
        from nasdsl.outputs import write_dir_atomic

        with _progress("MNI cases") as tick:
            write_dir_atomic(Path(out), lambda d: make_mni_dataset(
                d, cases, tests, seed, resolution, int(dims), tick), "the MNI dataset")
        click.echo(f"wrote {cases} training + {tests} test cases derived from the MNI "
                   f"ICBM152 template (one subject, deformed): {Path(out) / 'dataset.json'}")
        return 0

    run_guarded(go)
