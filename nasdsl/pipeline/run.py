"""`nasdsl run`: one search space to a deployed segmenter, stage by stage.

data -> search -> derive (RUN/genotype.nas) -> check -> compile (torch + verified ONNX)
-> draw -> train -> export (ONNX + sidecar) -> infer on held-back cases (PyTorch and
ONNX Runtime) -> evaluate -> figures -> report. Each stage calls the same API as its own
command (`nasdsl data mni`, `search`, `check`, `compile`, `show`, `train`, `export`,
`infer`, `eval`), so a user can redo any step by hand; `stages.json` records what each
stage produced, and a second run reuses finished stages.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from nasdsl.pipeline.content import HashCache, dataset_id, spec_id
from nasdsl.pipeline.machine import machine_report
from nasdsl.pipeline.plan import RunPlan
from nasdsl.pipeline.progress import convergence_note, search_progress
from nasdsl.pipeline.stages import Attempt, StageBook, StageResult, write_json_atomic


class Pipeline:
    def __init__(self, plan: RunPlan, log: Callable[[str], None] = print):
        self.plan = plan
        self.dir = Path(plan.out)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hashes = HashCache(self.dir)
        self.book = StageBook(self.dir, log)
        self.log = log
        self.values: dict[str, Any] = {}
        self._genotype = None  # compiled on first use (check, compile, draw)

    def p(self, name: str) -> Path:
        return self.dir / name

    def run(self) -> dict[str, Any]:
        from nasdsl.artifact import compile_files

        machine = machine_report(self.plan.threads)
        self.log(f"[machine] {machine['line']}")
        write_json_atomic(self.p("plan.json"), {**self.plan.to_dict(), "machine": machine})
        user_data = None if self.plan.data is None else dataset_id(self.plan.data, self.hashes)
        self._stage("data", {"data": self.plan.data, "content": user_data,
                             "budget": vars(self.plan.data_budget), "seed": self.plan.seed},
                    self.make_data)  # RUN/data: replaced only if nasdsl made it (write_dir_atomic)
        self.data_dir = str(self.dir / "data") if self.plan.data is None else self.plan.data
        # what the later stages read of the data: its content now, whoever wrote it
        self.data_id = user_data if self.plan.data is not None \
            else dataset_id(self.data_dir, self.hashes)
        self.hashes.save()
        # compiles go through nasdsl.artifact's cache: the search, training and export
        # stages find a network this process compiled already, and never compile it again
        spec = compile_files(self.plan.space, {}).compiled()
        declared = set(spec.params)  # the spec's parameters
        self.defines = _with_data_shape(declared, self.plan.defines, self.values)
        # which choices are left, not whether the spec's engine builds them at these
        # sizes: the search checks that with its settings (the quick plan's k)
        self.frozen = compile_files(self.plan.space, _parse(self.defines)).compiled().is_frozen
        shape = [] if self.frozen else list(self.plan.shape_defines)
        self.search_defines = _stage_defines(declared, self.plan.search_defines + shape,
                                             self.defines)
        self.engine = None if self.frozen else (self.plan.engine or _spec_engine(spec))
        self.train_defines = _stage_defines(declared, self.plan.train_defines + shape,
                                            self.defines)
        self.spec_id = spec_id(spec)
        search_inputs = {"space": self.spec_id, "engine": self.engine,
                         "data": self.data_id, "defines": self.search_defines,
                         "settings": self.plan.search.settings,
                         "time_budget": self.plan.search.time_budget}
        if self.frozen:  # a genotype or a space without choices: nothing to search
            self._stage("search", {"space": self.spec_id, "frozen": True},
                        self.take_genotype, owns=("genotype.nas", "search"))
        else:
            self._stage("search", search_inputs, self.search, owns=("genotype.nas", "search"))
        self._stage("check", {"defines": self.train_defines}, self.check)
        self._stage("compile", {}, self.compile, owns=("model.py", "model_untrained.onnx"))
        self._stage("draw", {}, self.draw, owns=("genotype.svg",))
        self._stage("train", {"budget": vars(self.plan.train), "data": self.data_id,
                              "folds": "min(5, cases)",
                              "defines": self.train_defines}, self.train, owns=("train",))
        self._stage("export", {}, self.export, owns=("model.onnx", "model.onnx.json"))
        self._stage("infer", {"data": self.data_id}, self.infer, owns=("predictions",))
        self._stage("evaluate", {}, self.evaluate, owns=("test_scores.csv",))
        self._stage("figures", {}, self.figures,
                    owns=("training_curves.png", "search_curves.png", "overlay.png"))
        self.values["convergence"] = convergence_note(self.p("train") / "metrics.jsonl",
                                                      self.plan.train)
        summary = {"plan": self.plan.to_dict(), "machine": machine, "values": self.values,
                   "stages": {k: v.get("seconds") for k, v in self.book.records.items()}}
        write_json_atomic(self.p("summary.json"), summary)
        return summary

    def _stage(self, name: str, settings: dict[str, Any],
               fn: Callable[[Attempt], StageResult], owns: tuple[str, ...] = ()
               ) -> StageResult:
        result = self.book.run_stage(name, settings, fn, owns)
        self.values.update(result.values)
        return result

    # ---- stages ---------------------------------------------------------------------------
    def make_data(self, attempt: Attempt) -> StageResult:
        from nasdsl.data import load_dataset, make_mni_dataset
        from nasdsl.outputs import write_dir_atomic

        outputs = {}
        if self.plan.data is None:
            b = self.plan.data_budget
            # built beside RUN/data and swapped in; a RUN/data nasdsl did not write is
            # refused, never deleted (outputs.write_dir_atomic)
            write_dir_atomic(self.p("data"), lambda d: make_mni_dataset(
                str(d), b.cases, b.tests, self.plan.seed, b.resolution, b.dims, None),
                "the built-in MNI dataset of this run", option="",
                hint="pass it as --data to use it, or choose another --out")
            outputs["index"] = "data/dataset.json"
        index = load_dataset(self.plan.data or str(self.p("data")))  # names a bad file
        return StageResult(outputs, {"data_cases": len(index.cases),
                                     "data_tests": len(index.test_cases),
                                     "data_channels": len(index.channel_names),
                                     "data_classes": index.num_classes,
                                     "data_dims": index.dims})

    def search(self, attempt: Attempt) -> StageResult:
        from nasdsl.engines.loop import SearchOptions, search

        engine = self.engine
        settings = self._engine_settings()
        opts = SearchOptions(self.plan.space, self.data_dir, str(self.p("search")), engine,
                             _parse(self.search_defines), settings,
                             resume=attempt.resume and self.p("search/manifest.json").exists(),
                             device=self.plan.device, progress=self.plan.progress,
                             log=self.log)
        opts.time_budget = self.plan.search.time_budget
        t0 = time.perf_counter()
        result = search(opts)
        _copy_genotype(Path(result["genotype"]), self.p("genotype.nas"), self.plan.space)
        values = {"engine": engine, "genotype_hash": result.get("genotype_hash"),
                  "search_seconds": time.perf_counter() - t0,
                  **search_progress(self.p("search") / "metrics.jsonl")}
        # later stages read RUN/genotype.nas alone (`nasdsl derive RUN` rewrites the
        # search's own genotype, not this copy)
        return StageResult({"genotype": "genotype.nas"}, values)

    def _engine_settings(self) -> dict[str, Any]:
        """The plan's engine settings that the engine at hand has (each takes its own)."""
        from nasdsl.enginespec import engine_settings

        known = engine_settings(self.engine)
        return {k: v for k, v in self.plan.search.settings.items() if k in known}

    def take_genotype(self, attempt: Attempt) -> StageResult:
        """A spec that decides everything is its own genotype: train it as written."""
        _copy_genotype(Path(self.plan.space), self.p("genotype.nas"), self.plan.space,
                       required=False)
        return StageResult({"genotype": "genotype.nas"},
                           {"engine": "none (the spec decides every choice)"})

    def _compiled(self):
        """The derived genotype at the training size, compiled once per run (the train
        stage records this same network in RUN/train/network.json; export reads it)."""
        if self._genotype is None:
            from nasdsl.train.spec_ref import artifact_of_spec

            self._genotype = artifact_of_spec(str(self.p("genotype.nas")),
                                              self.train_defines).compiled()
        return self._genotype

    def check(self, attempt: Attempt) -> StageResult:
        from nasdsl.api import summarize

        compiled = self._compiled()
        if not compiled.is_frozen:
            raise RuntimeError("the derived genotype leaves choices undecided")  # a bug
        s = summarize(compiled)
        flops = None if s.flops is None else s.flops.lo
        return StageResult({}, {"params": s.params.lo, "flops": flops})

    def compile(self, attempt: Attempt) -> StageResult:
        from nasdsl.backends import standalone

        compiled = self._compiled()
        standalone.compile_to(compiled, "torch", self.p("model.py"), verify=True)
        standalone.compile_to(compiled, "onnx", self.p("model_untrained.onnx"), verify=True)
        return StageResult({"py": "model.py", "onnx": "model_untrained.onnx"})

    def draw(self, attempt: Attempt) -> StageResult:
        from nasdsl.backends.dot import write

        write(self._compiled(), self.p("genotype.svg"))
        return StageResult({"svg": "genotype.svg"})

    def train(self, attempt: Attempt) -> StageResult:
        from nasdsl.train.loop import TrainConfig
        from nasdsl.train.session import TrainRequest, train

        b = self.plan.train
        config = TrainConfig(epochs=b.epochs, steps_per_epoch=b.steps_per_epoch,
                             batch_size=b.batch_size, seed=self.plan.seed,
                             time_budget=b.time_budget, progress=self.plan.progress)
        # 5 folds as nnU-Net, fewer on a small dataset (`run` has no --folds to pass)
        cases = int(self.values.get("data_cases", 5))
        folds = min(5, cases) if cases >= 2 else 1
        request = TrainRequest(str(self.p("genotype.nas")), self.data_dir,
                               str(self.p("train")), list(self.train_defines), config,
                               folds=folds, device=self.plan.device)
        resume = attempt.resume and (self.p("train") / "checkpoints" / "last.pt").exists()
        t0 = time.perf_counter()
        result = train(request, resume=resume)
        best = result.position.best
        return StageResult({"manifest": "train/manifest.json",
                            "best": "train/checkpoints/best.pt"}, {
            "train_steps": result.position.global_step,
            "train_epochs": result.position.epoch,
            "train_stopped": result.stopped,
            "train_seconds": time.perf_counter() - t0,
            "val_dice": None if best == float("-inf") else best})

    def export(self, attempt: Attempt) -> StageResult:
        from nasdsl.infer.export import export_run

        export_run(self.p("train"), self.p("model.onnx"))
        return StageResult({"onnx": "model.onnx", "sidecar": "model.onnx.json"})

    def infer(self, attempt: Attempt) -> StageResult:
        from nasdsl.pipeline.measure import predict_test_cases

        timings = predict_test_cases(self.p("train"), self.p("model.onnx"), self.data_dir,
                                     self.p("predictions"), self.plan.device)
        return StageResult(_listing(self.p("predictions"), "predictions"), timings)

    def evaluate(self, attempt: Attempt) -> StageResult:
        from nasdsl.pipeline.measure import score_predictions

        scores = score_predictions(self.p("predictions"), self.data_dir, self.p("test_scores.csv"))
        return StageResult({"csv": "test_scores.csv"}, scores)

    def figures(self, attempt: Attempt) -> StageResult:
        from nasdsl.pipeline.measure import overlay_first_case
        from nasdsl.figures import training_curves

        outputs = {}
        metrics = self.p("train") / "metrics.jsonl"
        if metrics.exists():
            training_curves(metrics, self.p("training_curves.png"), title="training")
            outputs["curves"] = "training_curves.png"
        search_metrics = self.p("search") / "metrics.jsonl"
        if search_metrics.exists():
            moved = search_progress(search_metrics)
            title = "search"
            if moved.get("entropy_start") is not None and moved.get("entropy_end") is not None:
                title += (f" (architecture entropy {moved['entropy_start']:.4f} \u2192 "
                          f"{moved['entropy_end']:.4f} nats)")
            training_curves(search_metrics, self.p("search_curves.png"), title=title,
                            titles={"params": self._search_params_title()})
            outputs["search_curves"] = "search_curves.png"
        overlay_first_case(self.p("predictions"), self.data_dir, self.p("overlay.png"))
        outputs["overlay"] = "overlay.png"
        return StageResult(outputs)

    def _search_params_title(self) -> str:
        """The search logs the derived genotype's size at the *search* size, which can
        differ from the trained network's: say which network the panel counts."""
        differ = [d for d in self.search_defines if d not in self.train_defines]
        at = f" ({', '.join(differ)})" if differ else ""
        trained = self.values.get("params")
        tail = f"; trained network: {trained:,}" if isinstance(trained, int) else ""
        return f"params of the derived genotype\nat search size{at}{tail}"


def _parse(defines: list[str]) -> dict[str, Any]:
    from nasdsl.api import parse_override

    return dict(parse_override(d) for d in defines)


def _listing(folder: Path, rel: str) -> dict[str, str]:
    """Every file a stage wrote into `folder`, as outputs (their content is checked)."""
    return {f"{rel}/{p.name}": f"{rel}/{p.name}" for p in sorted(folder.iterdir())
            if p.is_file()}


def _with_data_shape(declared: set[str], defines: list[str],
                     values: dict[str, Any]) -> list[str]:
    """Add `-D in_channels=` / `-D classes=` / `-D dims=` from the dataset when the spec
    declares those parameters and the user did not set them: the network fits the data
    it trains on (RONASMIS is 3D by default; the built-in task is 2D slices)."""
    given = {d.split("=", 1)[0].strip() for d in defines}
    extra = [f"{name}={values[key]}" for name, key in (("in_channels", "data_channels"),
                                                        ("classes", "data_classes"),
                                                        ("dims", "data_dims"))
             if name in declared and name not in given and key in values]
    return list(defines) + extra


def _copy_genotype(src: Path, dst: Path, space: str, required: bool = True) -> None:
    """Copy a genotype to RUN/genotype.nas, re-pointing its relative `of "..."` path
    (RUN/search/genotype.nas from a search, or a user's genotype that needs no search);
    a spec without `of` (a space that decides everything) is copied as it is."""
    import os

    from nasdsl.runs import atomic_write_bytes
    from nasdsl.spec_files import read_spec_bytes

    text = read_spec_bytes(str(src), require_suffix=True).decode("utf-8")
    if required:  # nasdsl wrote it: the path is the space's, relative to its folder
        old = os.path.relpath(Path(space).resolve(), src.parent.resolve())
        if f'of "{old}"' not in text:
            raise RuntimeError(f"{src}: expected `of \"{old}\"` in the derived genotype")
    else:  # the spec compiled already (the frozen check): its `of "..."` is all we need
        from nasdsl.api import read_unit
        from nasdsl.diagnostics import DiagnosticSink

        unit = read_unit(str(src), DiagnosticSink())
        old = None if unit is None else unit.space_path
        if old is None:
            atomic_write_bytes(dst, text.encode())
            return
    target = (src.parent / old).resolve()
    new = os.path.relpath(target, dst.parent.resolve())
    atomic_write_bytes(dst, text.replace(f'of "{old}"', f'of "{new}"', 1).encode())


def _stage_defines(declared: set[str], stage: list[str], user: list[str]) -> list[str]:
    """The stage's -D for parameters the spec declares, then the user's (which win)."""
    given = {d.split("=", 1)[0].strip() for d in user}
    own = [d for d in stage if d.split("=", 1)[0] in declared and d.split("=", 1)[0]
           not in given]
    return own + list(user)


def _spec_engine(spec: Any) -> str:
    from nasdsl.api import UsageError

    if not spec.engine:
        raise UsageError(f"{spec.path}: the spec has no `search` block; pass --engine")
    return str(spec.engine)

