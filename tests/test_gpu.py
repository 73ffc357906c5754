"""GPU checks (skipped without CUDA): emitted modules train and infer on the device."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from conftest import SPECS  # noqa: E402
from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.backends.onnx_export import load_emitted  # noqa: E402
from nasdsl.backends.torch_src import emit_torch  # noqa: E402

@pytest.fixture(autouse=True)
def _no_tf32():
    """Compare in full float32: TF32 convs/matmuls differ from CPU by ~5e-3."""
    if not torch.cuda.is_available():
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


CASES = [("genotypes/nas_unet_v2.nas", 2, (128, 128)),
         ("genotypes/ronasmis_a.nas", 3, (64, 64, 16)),
         ("genotypes/thrifty_nas_a.nas", 2, (64, 64)),
         ("unet.nas", 3, (32, 32, 32))]


@pytest.mark.gpu
@pytest.mark.parametrize("name,dims,size", CASES)
def test_emitted_module_trains_on_cuda_and_matches_cpu(name, dims, size):
    c = compile_spec(str(SPECS / name), {"dims": dims}, size)
    torch.manual_seed(0)
    cpu = load_emitted(emit_torch(c)).Model().eval()
    gpu = load_emitted(emit_torch(c)).Model().eval().cuda()
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(2, 1, *size)
    with torch.no_grad():
        torch.testing.assert_close(gpu(x.cuda()).cpu(), cpu(x), atol=1e-3, rtol=1e-3)
    gpu.train()
    opt = torch.optim.Adam(gpu.parameters(), 1e-3)
    loss = gpu(x.cuda()).float().pow(2).mean()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)


@pytest.mark.gpu
def test_channels_last_and_compile_on_cuda():
    c = compile_spec(str(SPECS / "genotypes/nas_unet_v2.nas"), {}, (128, 128))
    model = load_emitted(emit_torch(c, channels_last=True)).Model().cuda().eval()
    model = model.to_channels_last()
    x = torch.randn(2, 1, 128, 128, device="cuda")
    with torch.no_grad():
        eager = model(x)
        compiled = torch.compile(model)(x)
    torch.testing.assert_close(eager, compiled, atol=1e-3, rtol=1e-3)
