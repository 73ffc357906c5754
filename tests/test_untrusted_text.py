"""Text and pickles from someone else's files (issue 15 row 9): label names reach the CSV
and the terminal escaped, and a checkpoint that holds code is refused without passing on
torch's advice to retry with weights_only=False."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nibabel")

from data_fixtures import msd  # noqa: E402
from hostile_run import run_cli  # noqa: E402

HOSTILE_NAMES = {"0": "background", "1": '=HYPERLINK("http://evil.example","x")',
                 "2": "\x1b[2J\x1b[31mred\u202eevil"}


def _dataset(tmp: Path) -> Path:
    root = msd(tmp / "data")
    meta = json.loads((root / "dataset.json").read_text())
    meta["labels"] = HOSTILE_NAMES
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def test_inspect_escapes_label_names(tmp_path):
    res = run_cli(["data", "inspect", str(_dataset(tmp_path))], cwd=tmp_path)
    assert res.code == 0, res.out
    assert "\x1b" not in res.out and "\u202e" not in res.out, repr(res.out)
    assert "\\x1b[2J" in res.out and "=HYPERLINK" in res.out


def test_eval_csv_and_table_escape_names(tmp_path):
    """`eval` of a folder of predictions (the labels themselves): every cell of the CSV
    is text a spreadsheet shows, never a formula, and the table has no escapes."""
    import shutil

    from click.testing import CliRunner

    from nasdsl.cli import main

    root = _dataset(tmp_path)
    preds = tmp_path / "preds"
    shutil.copytree(root / "labelsTr", preds)
    out = tmp_path / "eval.csv"
    result = CliRunner().invoke(main, ["eval", str(preds), "--data", str(root), "--csv",
                                       str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    rows = list(csv.reader(io.StringIO(out.read_text())))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], rows
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in cells
    assert not [c for c in cells if "\x1b" in c]


def test_csv_cells_unit():
    from nasdsl.safe_text import for_csv, for_terminal

    assert for_csv("=1+1") == "'=1+1"
    assert for_csv("+1") == "'+1" and for_csv("-1") == "'-1" and for_csv("@SUM(A1)") == "'@SUM(A1)"
    assert for_csv("liver") == "liver"
    assert for_terminal("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert for_terminal("tumour") == "tumour"


def test_checkpoint_with_code_refused_without_weights_only_advice(tmp_path):
    torch = pytest.importorskip("torch")

    from nasdsl.errors import UserError
    from nasdsl.runs import load_checkpoint

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, path)
    with pytest.raises(UserError) as info:
        load_checkpoint(path)
    text = str(info.value)
    assert not marker.exists()
    assert "weights_only" not in text.replace("weights_only=True", "") and "False" not in text
    assert "evil.pt" in text and "open" in text, text   # torch's reason: the global named
    assert "\x1b" not in text


def test_garbage_checkpoint_message(tmp_path):
    pytest.importorskip("torch")
    from nasdsl.errors import UserError
    from nasdsl.runs import load_checkpoint

    path = tmp_path / "junk.pt"
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(UserError) as info:
        load_checkpoint(path)
    assert "False" not in str(info.value) and "junk.pt" in str(info.value)


def test_label_map_with_negative_values(tmp_path):
    """A mask holding -1 (in a layout without dataset.json) has its own message."""
    from PIL import Image

    from nasdsl.data import DataError, load_dataset

    for d in ("images", "masks"):
        (tmp_path / d).mkdir()
    Image.fromarray(np.full((8, 8), 100, np.uint8)).save(tmp_path / "images" / "a.tif")
    import tifffile

    tifffile.imwrite(str(tmp_path / "masks" / "a.tif"), np.full((8, 8), -1, np.int16))
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path)
    assert "a.tif" in info.value.path and "holds the value -1" in info.value.what
