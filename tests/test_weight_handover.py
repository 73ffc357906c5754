"""Weight handover: a child's weights, taken from the supernet's bank, load strictly into
the emitted standalone module of that genotype and give the same outputs — for every
choice kind (cell edges, value choices, strides, skips, zero ops)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from conftest import SPECS  # noqa: E402
from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.backends.onnx_export import example_input, load_emitted  # noqa: E402
from nasdsl.backends.supernet import (Supernet, restrict_state_dict,  # noqa: E402
                                      standalone_names)
from nasdsl.backends.torch_src import emit_torch  # noqa: E402
from nasdsl.space import load_space  # noqa: E402

# tiny configurations: 2 CPU cores run these in the default suite
SMALL = {"nas_unet.nas": ({"C": 8, "depth": 2}, (32, 32), (16, 16, 16)),
         "thrifty_nas.nas": ({"C": 8, "levels": 2}, (32, 32), (16, 16, 16)),
         "ronasmis.nas": ({"base": 2}, (32, 32), (32, 32, 16))}
_SPACES: dict = {}


def _net(name: str, dims: int):
    if (name, dims) not in _SPACES:
        overrides, size2, size3 = SMALL[name]
        space = load_space(str(SPECS / name), {**overrides, "dims": dims},
                           size2 if dims == 2 else size3)
        torch.manual_seed(0)
        _SPACES[name, dims] = (space, Supernet(space).eval())
    return _SPACES[name, dims]


def _standalone(space, assignment, state):
    model = load_emitted(emit_torch(space.child(assignment))).Model().eval()
    model.load_state_dict(state, strict=True)
    return model


def _assert_handover(space, net, assignment):
    child = space.child(assignment)
    model = _standalone(space, assignment, net.child_state_dict(assignment))
    x = example_input(1, child.input_size, batch=1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), net(x, assignment), rtol=0, atol=1e-5)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name", sorted(SMALL))
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_random_children_equal_their_standalone_modules(name, dims, seed):
    space, net = _net(name, dims)
    _assert_handover(space, net, space.table.sample(random.Random(seed)))


@pytest.mark.parametrize("genotype,name", [("nas_unet_v2.nas", "nas_unet.nas"),
                                           ("thrifty_nas_a.nas", "thrifty_nas.nas"),
                                           ("ronasmis_a.nas", "ronasmis.nas")])
def test_shipped_genotypes_take_supernet_weights(genotype, name):
    space, net = _net(name, 2)
    overrides, size, _ = SMALL[name]
    g = compile_spec(str(SPECS / "genotypes" / genotype), {**overrides, "dims": 2}, size)
    _assert_handover(space, net, dict(g.decided))


def test_ronasmis_children_differing_from_the_default_share_one_bank():
    space, net = _net("ronasmis.nas", 3)
    default = space.table.defaults()
    changed = {**default, "stride_hw[2]": "1", "stride_d[3]": "1", "dilation[2]": "3",
               "zero[1]": "true", "skip[3]": (), "zero_dec[0]": "true", "act_kind": "elu"}
    for a in (default, changed):
        _assert_handover(space, net, a)
    bank = {id(m) for m in net.bank.entries.values()}
    for a in (default, changed):  # every op of a child *is* a bank module: no copies
        child = net.child_module(a)
        for attr in standalone_names(child.graph).values():
            assert id(child.get_submodule(attr)) in bank
    shared = set(standalone_names(net.child_module(default).graph).values()) & \
        set(standalone_names(net.child_module(changed).graph).values())
    assert "enc_0.h.conv" in shared and net.child_module(default).get_submodule(
        "enc_0.h.conv") is net.child_module(changed).get_submodule("enc_0.h.conv")


def test_checkpoint_restricts_without_the_supernet(tmp_path):
    space, net = _net("nas_unet.nas", 2)
    a = space.table.sample(random.Random(7))
    net(example_input(1, (32, 32)), a)  # the child's modules exist in the bank
    path = tmp_path / "supernet.pt"
    torch.save(net.state_dict(), path)
    state = torch.load(path, weights_only=True)
    model = _standalone(space, a, restrict_state_dict(state, space, a))
    x = example_input(1, (32, 32))
    with torch.no_grad():
        torch.testing.assert_close(model(x), net(x, a), rtol=0, atol=1e-5)


@pytest.mark.gpu
def test_children_created_after_moving_to_cuda_live_on_cuda():
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    space = load_space(str(SPECS / "ronasmis.nas"), {"base": 2, "dims": 3}, (32, 32, 16))
    net = Supernet(space).eval().cuda()
    for seed in range(3):
        a = space.table.sample(random.Random(seed))
        x = example_input(1, space.child(a).input_size)
        model = _standalone(space, a, {k: v.cpu() for k, v in
                                       net.child_state_dict(a).items()})
        with torch.no_grad():
            y = net(x.cuda(), a)
            assert y.is_cuda
            torch.testing.assert_close(y.cpu(), model(x), rtol=0, atol=1e-4)
    assert all(p.is_cuda for p in net.parameters())
