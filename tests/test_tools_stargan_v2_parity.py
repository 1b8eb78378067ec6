"""``tools/stargan_v2_parity.py``, the step-by-step check against clovaai/stargan-v2, needs the
reference's checkout to run (never downloaded, so not in CI). What can be checked without it:
it imports against i2i's current internals (TrainContext, EMA, Precision, the plugin's
``pick_references`` it stands in for), it refuses a folder that is not the reference with one
line, and it hands both sides references the way i2i picks them: another image of the batch,
and a second one of the same domain."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

TOOL = Path(__file__).resolve().parents[1] / "tools" / "stargan_v2_parity.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("stargan_v2_parity", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_imports_against_the_current_internals(tool) -> None:
    import i2i_stargan_v2.method as method_module

    assert callable(method_module.pick_references)  # the function the tool replaces during a step
    assert set(tool.NETS.values()) == {"G", "F", "E", "D"} and len(tool.LOSSES) == 14


def test_a_folder_that_is_not_the_reference_is_one_line(tool, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        tool.main(["--reference", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.fullmatch(r"error: --reference .*: no core/solver.py \(expected a clovaai/stargan-v2 checkout\)\n", err)


def test_references_are_other_images_and_the_second_shares_the_first_ones_domain(tool) -> None:
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    refs = tool.reference_indices(y)
    assert (refs.ref != torch.arange(6)).all()
    assert torch.equal(y[refs.ref], y[refs.ref2]) and (refs.ref != refs.ref2).all()
    alone = tool.reference_indices(torch.tensor([0, 1, 1]))  # row 2's reference is row 0, alone in its domain
    assert alone.ref2[2] == alone.ref[2] == 0
