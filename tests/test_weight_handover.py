"""Weight handover: a supernet checkpoint restricted to a genotype loads into the emitted
standalone module (strict) and gives the same outputs."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")

from conftest import SPECS  # noqa: E402
from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.backends.onnx_export import example_input, load_emitted  # noqa: E402
from nasdsl.backends.supernet import Supernet, restrict_state_dict  # noqa: E402
from nasdsl.backends.torch_src import emit_torch  # noqa: E402

CASES = [("nas_unet.nas", "genotypes/nas_unet_v2.nas", {"C": 16, "depth": 3}, (32, 32)),
         ("thrifty_nas.nas", "genotypes/thrifty_nas_a.nas", {"levels": 3}, (32, 32))]


def _handover(space, genotype_or_choice, overrides, size, dims=2):
    overrides = {**overrides, "dims": dims}
    size = size if dims == 2 else size[:1] * 3
    sp = compile_spec(str(SPECS / space), overrides, size)
    torch.manual_seed(0)
    supernet = Supernet(sp.graph).eval()
    if isinstance(genotype_or_choice, str):
        g = compile_spec(str(SPECS / genotype_or_choice), overrides, size)
        choice = dict(g.decided)
    else:
        choice = genotype_or_choice(sp)
        g = compile_spec(str(SPECS / space), overrides, size, assignment=choice)
    # state must be a checkpoint: round-trip through torch.save / weights_only load
    state = {k: v.clone() for k, v in supernet.state_dict().items()}
    standalone = load_emitted(emit_torch(g)).Model().eval()
    standalone.load_state_dict(restrict_state_dict(state, sp.graph, choice), strict=True)
    x = example_input(1, size, batch=2)
    with torch.no_grad():
        torch.testing.assert_close(standalone(x), supernet(x, choice), rtol=0, atol=1e-5)


@pytest.mark.parametrize("space,genotype,overrides,size", CASES)
@pytest.mark.parametrize("dims", [2, 3])
def test_shipped_genotype_takes_supernet_weights(space, genotype, overrides, size, dims):
    _handover(space, genotype, overrides, size, dims)


@pytest.mark.parametrize("seed", range(4))
def test_random_genotypes_take_supernet_weights(seed):
    space, _, overrides, size = CASES[seed % 2]
    _handover(space, lambda sp: sp.table.sample(random.Random(seed)), overrides, size)


def test_checkpoint_loads_with_weights_only(tmp_path):
    sp = compile_spec(str(SPECS / "nas_unet.nas"), {"C": 16, "depth": 3}, (32, 32))
    path = tmp_path / "supernet.pt"
    torch.save(Supernet(sp.graph).state_dict(), path)
    state = torch.load(path, weights_only=True)
    assert any(".ops." in k for k in state)
