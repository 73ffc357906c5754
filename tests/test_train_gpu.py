"""CUDA paths of training and inference (skipped without CUDA, see conftest.py)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from conftest import SPECS  # noqa: E402
from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.runs import RunDir  # noqa: E402
from nasdsl.train import (GenotypeNet, InferShape, Precision, SegLoss,  # noqa: E402
                          TrainConfig, fit, net_info, train_step)
from nasdsl.train.batches import PlannedBatches  # noqa: E402


class Squares:
    def __len__(self) -> int:
        return 4

    def item(self, index: int, seed: int) -> dict:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(1, 32, 32, generator=g)
        label = torch.zeros(1, 32, 32, dtype=torch.long)
        label[:, 8 + index:20 + index, 8:20] = 1
        return {"image": x + 2.0 * label, "label": label}


def _compiled():
    return compile_spec(str(SPECS / "unet.nas"), {"base": 8, "depth": 2, "classes": 2,
                                                  "patch": 32})


@pytest.mark.gpu
def test_bf16_autocast_channels_last_training_on_cuda(tmp_path):
    c = _compiled()
    info = net_info(c)
    precision = Precision.for_device("cuda")
    assert precision.autocast_dtype == torch.bfloat16 and precision.channels_last
    model = precision.prepare_model(GenotypeNet(c), 2)
    seen = []
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    batch = {k: torch.stack([Squares().item(i, i)[k] for i in range(4)]) for k in
             ("image", "label")}
    losses = [train_step(model, batch, SegLoss(2), opt, precision).loss for _ in range(30)]
    assert seen[0] == torch.bfloat16
    assert all(map(lambda v: v == v, losses)) and losses[-1] < losses[0]
    cfg = TrainConfig(epochs=2, steps_per_epoch=5, batch_size=2, progress=False)
    run = RunDir.create(tmp_path / "run", {})
    result = fit(lambda: GenotypeNet(c), SegLoss(2), PlannedBatches(Squares(), 2, 5, 0),
                 [Squares().item(0, 99)], cfg, run, precision,
                 InferShape(2, 2, (32, 32), info.stride_multiple))
    assert result.position.global_step == 10 and run.has_checkpoint("best")
    assert next(result.model.parameters()).is_cuda


@pytest.mark.gpu
def test_onnx_runtime_cuda_provider_matches_pytorch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is not installed")
    from nasdsl.backends.onnx_export import export
    from nasdsl.infer.predict import ort_providers
    from nasdsl.train.sliding import predict_probabilities

    c = _compiled()
    net = GenotypeNet(c).eval()
    path = tmp_path / "m.onnx"
    export(net, torch.randn(1, 1, 32, 32), path, ["y"])
    assert ort_providers()[0] == "CUDAExecutionProvider"
    session = ort.InferenceSession(str(path), providers=ort_providers())
    assert session.get_providers()[0] == "CUDAExecutionProvider"

    def run(x):
        return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])

    x = torch.randn(1, 1, 70, 45)
    kw = dict(mode="sliding", window=(32, 32), multiple=(4, 4))
    with torch.no_grad():
        expected = predict_probabilities(net, x, **kw)
    torch.testing.assert_close(predict_probabilities(run, x, **kw), expected, rtol=1e-3,
                               atol=1e-3)
