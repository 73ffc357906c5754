"""The training loop in-process: resume replays exactly, NaN stops, checkpoints load
with weights_only (the CLI-level SIGKILL and DDP tests are in test_train_cli.py)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from conftest import SPECS  # noqa: E402
from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.runs import RunDir  # noqa: E402
from nasdsl.train.batches import PlannedBatches  # noqa: E402
from nasdsl.train import (BatchPlan, GenotypeNet, InferShape, NonFiniteLoss,  # noqa: E402
                          Precision, SegLoss, TrainConfig, TrainingStopped, fit, net_info,
                          train_step)


pytestmark = pytest.mark.usefixtures("one_thread")


class Blobs:
    """In-memory items whose content depends on the item seed (like augmentation)."""

    def __init__(self, n: int = 6, size: int = 16):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 1, size, size, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def item(self, index: int, seed: int) -> dict:
        g = torch.Generator().manual_seed(seed)
        x = self.x[index] + 0.1 * torch.randn(self.x[index].shape, generator=g)
        return {"image": x, "label": ((x > 0.3).long() + (x > 1.0).long())}


def _net():
    c = compile_spec(str(SPECS / "unet.nas"), {"base": 4, "depth": 2, "classes": 3,
                                               "patch": 16})
    return c, net_info(c)


def _fit(run, cfg, resume=False, loss=None):
    c, info = _net()
    shape = InferShape(2, 3, (16, 16), info.stride_multiple)
    val = [Blobs(1, 20).item(0, 1)]
    batches = PlannedBatches(Blobs(), cfg.batch_size, cfg.steps_per_epoch, cfg.seed)
    return fit(lambda: GenotypeNet(c), loss or SegLoss(3), batches, val, cfg, run,
               Precision.for_device("cpu"), shape, resume=resume)


def _cfg(**kw):
    base = dict(epochs=2, steps_per_epoch=3, batch_size=2, checkpoint_every=2,
                progress=False)
    return TrainConfig(**{**base, **kw})


class Killed(Exception):
    pass


def test_resume_after_interruption_gives_same_weights(tmp_path):
    whole = _fit(RunDir.create(tmp_path / "a", {}), _cfg())
    calls = {"n": 0}

    def dies_at_step_6(outputs, label):  # epoch 1, after the step-4 checkpoint
        calls["n"] += 1
        if calls["n"] == 6:
            raise Killed
        return SegLoss(3)(outputs, label)

    run = RunDir.create(tmp_path / "b", {})
    with pytest.raises(Killed):
        _fit(run, _cfg(), loss=dies_at_step_6)
    assert run.load("last")["position"] == {**run.load("last")["position"],
                                             "epoch": 1, "step": 1, "global_step": 4}
    resumed = _fit(run, _cfg(), resume=True)
    for (k, a), (_, b) in zip(whole.model.state_dict().items(),
                              resumed.model.state_dict().items()):
        assert torch.equal(a, b), k
    assert resumed.position.global_step == whole.position.global_step == 6


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    calls = {"n": 0}

    def poisoned(outputs, label):
        calls["n"] += 1
        value = SegLoss(3)(outputs, label)
        return value * math.nan if calls["n"] == 5 else value

    run = RunDir.create(tmp_path / "r", {})
    with pytest.raises(TrainingStopped, match="the loss became nan at step 5"):
        _fit(run, _cfg(epochs=3), loss=poisoned)
    kept = run.load("last")
    assert kept["position"]["global_step"] == 4
    assert all(torch.isfinite(t).all() for t in kept["model"].values())
    assert any(r.get("event") == "nonfinite_loss" for r in run.records())


def test_train_step_refuses_nonfinite_before_touching_weights():
    c, _ = _net()
    model = GenotypeNet(c)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batch = Blobs().item(0, 0)
    batch = {k: v[None] for k, v in batch.items()}
    with pytest.raises(NonFiniteLoss):
        train_step(model, batch, lambda o, y: o.sum() * math.inf, opt,
                   Precision.for_device("cpu"))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_ddp_shards_are_slices_of_the_global_batch():
    one = BatchPlan(10, 4, 5, seed=3)
    two = [BatchPlan(10, 4, 5, seed=3, world=2, rank=r) for r in range(2)]
    for step in range(5):
        assert one.batch(1, step) == two[0].batch(1, step) + two[1].batch(1, step)


DEEP = """arch DS {
  param dims = 2
  param classes = 3
  input x(channels=1, size=32)
  e0 = act(conv(x, 8, 3), relu)
  e1 = act(conv(pool(e0, max), 16, 3), relu)
  d0 = act(conv(concat(e0, conv_transpose(e1, 8)), 8, 3), relu)
  output y = conv(d0, classes, 1)
  output aux = conv(e1, classes, 1)
}
"""


def test_deep_supervision_weights_heads_and_resizes_labels(tmp_path):
    from monai.losses import DiceCELoss

    spec = tmp_path / "ds.nas"
    spec.write_text(DEEP)
    c = compile_spec(str(spec))
    info = net_info(c)
    assert info.outputs == ("y", "aux") and info.main_output == 0
    assert info.stride_multiple == (2, 2)
    torch.manual_seed(0)
    out = GenotypeNet(c)(torch.randn(2, 1, 32, 32))
    label = torch.randint(0, 3, (2, 1, 32, 32))
    plain = DiceCELoss(to_onehot_y=True, softmax=True, include_background=False)
    expected = (2 / 3) * plain(out[0], label) + (1 / 3) * plain(out[1], label[:, :, ::2, ::2])
    torch.testing.assert_close(SegLoss(3, 0)(out, label), expected)


def test_case_metrics_on_a_known_case():
    import numpy as np

    from nasdsl.train.metrics import case_scores

    pred = np.zeros((40, 40), np.int64)
    ref = np.zeros((40, 40), np.int64)
    pred[10:30, 10:30] = 1
    ref[12:32, 10:30] = 1          # the same square shifted 2 voxels = 1.0 mm on axis 0
    ref[35:38, 35:38] = 3          # a structure the prediction misses; class 2 nowhere
    s = case_scores("c", pred, ref, 4, spacing=(0.5, 1.0), tolerance_mm=1.0)
    assert s.scores["dice"][1] == pytest.approx(720 / 800)
    assert s.scores["iou"][1] == pytest.approx(360 / 440)
    assert s.scores["hd95"][1] == pytest.approx(1.0)
    assert s.scores["surface_dice"][1] == pytest.approx(1.0)
    assert math.isnan(s.scores["dice"][2]) and math.isnan(s.scores["hd95"][2])
    assert s.scores["dice"][3] == 0.0 and math.isinf(s.scores["hd95"][3])
    tight = case_scores("c", pred, ref, 4, spacing=(0.5, 1.0), tolerance_mm=0.4)
    assert tight.scores["surface_dice"][1] < 1.0
