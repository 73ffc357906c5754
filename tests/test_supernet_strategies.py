"""The supernet as an interpreter with strategy hooks (docs/SEARCH_IR.md): one-path over
the relaxed graph, a weighted sum with engine-owned arch parameters, partial-channel
candidates from the bank, macro op choices, and op-set labels that are nn.Module
attribute names."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")

from nasdsl.api import NasError  # noqa: E402
from nasdsl.backends.onnx_export import example_input, load_emitted  # noqa: E402
from nasdsl.backends.supernet import OnePath, Supernet  # noqa: E402
from nasdsl.backends.torch_src import emit_torch  # noqa: E402
from nasdsl.space import load_space  # noqa: E402

MACRO = """space Macro {
  param dims = 2
  input x(channels=1, size=16)
  opset ops = [to = sep_conv_3x3, cuda = dil_conv_3x3, train = skip_connect, none]
  cell C(s0) {
    p0 = conv(s0, 8, 1)
    nodes n[2] keep 1 {
      from p0 normal: ops
      from nodes: ops
    }
    return sum(n)
  }
  h = conv(x, 8, 3)
  for i in 0..2 {
    choice blk[i] in ops
    h = blk[i](h)
  }
  c = C(h)
  output y = conv(c, 2, 1)
}
"""


@pytest.fixture(scope="module")
def macro_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("macro") / "macro.nas"
    path.write_text(MACRO)
    return path


@pytest.fixture(scope="module")
def macro(macro_path):
    return load_space(str(macro_path))


def _arch(macro_path, kinds):
    from nasdsl.engines.archparams import ArchParams
    from nasdsl.space import SearchSpace

    space = SearchSpace.load(str(macro_path), {})
    return space, ArchParams(space, kinds, torch.Generator().manual_seed(0))


def test_macro_op_choices_are_mixed_nodes_with_module_names_as_labels(macro):
    blk = macro.table.get("blk[0]")
    assert blk.kind == "op" and blk.role == "macro" and not blk.structural
    torch.manual_seed(0)
    net = Supernet(macro).eval()
    assert {e.decision for e in net.edges} >= {"blk[0]", "blk[1]", "C.n[0].p0"}
    assert "zero" in net.edges[0].tags("none") and net.edges[0].param_free["train"]
    x = example_input(1, (16, 16))
    outs = []
    for seed in range(3):
        a = macro.table.sample(random.Random(seed))
        child = macro.child(a)
        model = load_emitted(emit_torch(child)).Model().eval()
        model.load_state_dict(net.child_state_dict(a), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(model(x), net(x, a), rtol=0, atol=1e-5)
            net.strategy = OnePath(a)  # the relaxed graph, one path: the same network
            torch.testing.assert_close(net(x), net(x, a), rtol=0, atol=1e-5)
            outs.append(net(x, a))
    assert not torch.allclose(outs[0], outs[1]) or not torch.allclose(outs[1], outs[2])


def test_darts_strategy_trains_engine_owned_alphas(macro_path):
    from nasdsl.engines.relaxed import DartsStrategy

    space, arch = _arch(macro_path, ("op",))
    net = Supernet(space, DartsStrategy(arch))
    y = net(example_input(1, (16, 16), batch=2))
    y.square().mean().backward()
    moved = {did for did in arch.ids if arch[did].grad is not None
             and float(arch[did].grad.abs().sum()) > 0}
    assert {"blk[0]", "blk[1]", "C.n[0].p0", "C.n[1].n[0]"} <= moved
    assert not any(p is a for p in net.parameters() for a in arch.parameters())


def test_pc_darts_strategy_trains_alpha_and_beta_on_partial_channel_candidates(macro_path):
    from nasdsl.engines.relaxed import PcDartsStrategy

    space, arch = _arch(macro_path, ("op", "inputs"))
    net = Supernet(space, PcDartsStrategy(arch, 2, 2))
    edge = next(e for e in net.edges if e.decision == "blk[0]")
    conv = edge.candidates["to"]
    assert conv is not None and sum(p.numel() for p in conv.parameters()) > 0
    full = Supernet(space).edges[0].candidates["to"]
    assert sum(p.numel() for p in conv.parameters()) < sum(p.numel() for p in
                                                           full.parameters())
    net(example_input(1, (16, 16), batch=2)).square().mean().backward()
    assert net.new_parameters()  # the engine adds these to its optimizer
    grads = {did: float(arch[did].grad.abs().sum()) if arch[did].grad is not None else 0.0
             for did in arch.ids}
    assert grads["blk[0]"] > 0 and grads["C.n[1].n[0]"] > 0      # alpha: macro, cell edge
    assert grads["C.n[1]"] > 0                                    # beta of a cell node


def test_unhonourable_assignments_raise(macro):
    net = Supernet(macro)
    x = example_input(1, (16, 16))
    good = macro.table.sample(random.Random(0))
    for bad in ({k: v for k, v in good.items() if k != "blk[1]"},  # incomplete
                {**good, "blk[9]": "to"},                           # unknown
                {**good, "blk[0]": "sep_conv_5x5"}):                # out of domain
        with pytest.raises(NasError):
            net(x, bad)
    net.strategy = OnePath({})
    with pytest.raises(NasError):
        net(x)


MIXED_KINDS = """space Kinds {
  param dims = 2
  input x(channels=1, size=16)
  opset ops = [identity, sep_conv_3x3, none]
  op block(x, w=8) {
    return act(conv(x, w, 3), relu)
  }
  opset layer_ops = [identity, sep_conv_3x3, blk = block]
  cell C(s0) {
    choice k in [1, 3]
    choice nk in [group, batch]
    p0 = norm(conv(s0, 8, k), nk)
    nodes n[2] keep 1 {
      from p0 normal: ops
      from nodes: ops
    }
    return sum(n)
  }
  choice m in layer_ops
  choice wide in [8, 16]
  h = m(conv(x, 8, 3))
  a = C(h)
  b = C(a)
  output y = conv(conv(b, wide, 1), 2, 1)
}
"""


def test_cell_value_choices_and_structural_op_choices(tmp_path):
    path = tmp_path / "kinds.nas"
    path.write_text(MIXED_KINDS)
    space = load_space(str(path))
    table = space.table
    assert table.get("m").structural  # a composite op among the labels: per child
    assert not table.get("C.k").structural and not table.get("C.nk").structural
    torch.manual_seed(0)
    net = Supernet(space).eval()  # children's BatchNorms are made later, in eval mode
    assert {e.decision for e in net.edges} >= {"C.k", "C.nk"}
    x = example_input(1, (16, 16))
    for label in ("sep_conv_3x3", "blk", "identity"):
        a = {**table.sample(random.Random(len(label))), "m": label}
        model = load_emitted(emit_torch(space.child(a))).Model().eval()
        model.load_state_dict(net.child_state_dict(a), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(model(x), net(x, a), rtol=0, atol=1e-5)
