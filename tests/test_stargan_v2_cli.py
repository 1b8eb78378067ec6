"""StarGAN v2 end to end: ``i2i run`` on domain folders, exact resume (EMA and the diversity
schedule included), ``i2i import-weights`` of a reference checkpoint, ``i2i translate`` (diverse
samples, reference style, all domains); export is in test_stargan_v2_export.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from stargan_v2_support import TINY_RUN, make_domains, shaded_image

import i2i


def _cli(args: list[str], capsys: Any, sets: dict[str, Any] | None = None) -> tuple[int, str, str]:
    from i2i.cli.main import main

    flags = [item for k, v in (sets or {}).items() for item in ("--set", f"{k}={v}")]
    with pytest.raises(SystemExit) as exit_info:
        main(args + flags)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture(scope="module")
def domains_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_domains(tmp_path_factory.mktemp("afhq"), per_domain=3)


def _run(root: Path, out: Path, steps: int, capsys: Any, *extra: str) -> tuple[int, str, str]:
    args = [
        "run",
        "--method",
        "stargan_v2",
        "--data",
        str(root),
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--batch-size",
        "4",
        "--image-size",
        "32",
        *extra,
    ]
    return _cli(args, capsys, TINY_RUN)


def test_run_then_resume_is_exact_including_ema_and_the_diversity_schedule(
    domains_root: Path, tmp_path: Path, capsys: Any
) -> None:
    code, _, err = _run(domains_root, tmp_path / "straight", 4, capsys)
    assert code == 0, err
    code, _, err = _run(domains_root, tmp_path / "split", 2, capsys, "--set", "train.eval_at_end=false")
    assert code == 0, err
    code, _, err = _cli(["run", "--resume", "--out", str(tmp_path / "split"), "--steps", "4"], capsys)
    assert code == 0, err
    a, b = (torch.load(tmp_path / name / "last.pt", weights_only=True) for name in ("straight", "split"))
    assert a["step"] == b["step"] == 4
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert set(a["ema"]) == {"G", "F", "E"}
    for net in a["ema"]:
        for key in a["ema"][net]:
            assert torch.equal(a["ema"][net][key], b["ema"][net][key]), (net, key)
    lambdas = [
        json.loads(line)["losses"]["G/lambda_ds"]
        for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
        if '"losses"' in line
    ]
    assert lambdas == [1.0, 0.75, 0.5, 0.25]  # ds_iter 4: continued across the resume
    assert list((tmp_path / "straight" / "samples").glob("*.png"))
    # the end-of-run evaluation includes the method's diversity rows (EvalMetric(at_end=True))
    (final,) = [
        json.loads(line)["eval"]
        for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()
        if '"eval"' in line
    ]
    assert final["diversity_latent"] > 0 and final["diversity_latent/identity"] == 0 and "accuracy/real" in final


def test_translate_and_eval_cli_samples_reference_all_diversity(
    domains_root: Path, tmp_path: Path, capsys: Any
) -> None:
    code, _, err = _run(domains_root, tmp_path / "run", 1, capsys, "--set", "train.eval_at_end=false")
    assert code == 0, err
    photo = tmp_path / "in.png"
    shaded_image(photo, seed=99, shade=0.2, size=44)  # not a multiple of the size multiple: padded, then cropped back
    out = tmp_path / "out"
    code, _, err = _cli(
        [
            "translate",
            str(tmp_path / "run"),
            str(photo),
            "--out",
            str(out),
            "--target",
            "dog",
            "--samples",
            "3",
            "--seed",
            "5",
        ],
        capsys,
    )
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["in_grid.png", "in_s0.png", "in_s1.png", "in_s2.png"]
    assert Image.open(out / "in_s1.png").size == (44, 44)
    assert not np.array_equal(np.asarray(Image.open(out / "in_s0.png")), np.asarray(Image.open(out / "in_s1.png")))
    code, _, err = _cli(
        ["translate", str(tmp_path / "run"), str(photo), "--out", str(tmp_path / "all"), "--target", "all"], capsys
    )
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        "in_cat.png",
        "in_dog.png",
        "in_grid.png",
        "in_wild.png",
    ]
    reference = domains_root / "test" / "wild" / "0.png"
    code, _, err = _cli(
        [
            "translate",
            str(tmp_path / "run"),
            str(photo),
            "--out",
            str(tmp_path / "ref"),
            "--target",
            "wild",
            "--reference",
            str(reference),
        ],
        capsys,
    )
    assert code == 0, err
    assert Image.open(tmp_path / "ref" / "in.png").size == (44, 44)
    code, _, err = _cli(
        [
            "eval",
            str(tmp_path / "run"),
            "--metrics",
            "accuracy,diversity",
            "--samples",
            "2",
            "--classifier-steps",
            "5",
            "--json",
            str(tmp_path / "eval.json"),
        ],
        capsys,
    )
    assert code == 0, err
    rows = json.loads((tmp_path / "eval.json").read_text())["table"]
    assert {"model", "identity", "mean_image", "real"} <= set(rows["accuracy"])
    assert rows["diversity_latent"]["model"] > 0 and rows["diversity_latent"]["identity"] == 0
    assert rows["diversity_reference"]["real"] > 0
    code, _, err = _cli(
        ["translate", str(tmp_path / "run"), str(photo), "--out", str(tmp_path / "bad"), "--target", "cow"], capsys
    )
    assert (
        code == 2
        and err.strip().splitlines() == [err.strip().splitlines()[-1]]  # checked before any image: one line
        and err.strip().splitlines()[-1].startswith("error: target: unknown domain 'cow'")
        and "Traceback" not in err
    )


def _reference_file(path: Path, method: Any) -> None:
    """The method's G, F, E saved as clovaai/stargan-v2 saves its ``*_nets_ema.ckpt``."""
    names = {"G": "generator", "F": "mapping_network", "E": "style_encoder"}
    torch.save({ref: getattr(method, ours).state_dict() for ours, ref in names.items()}, path)


def test_import_weights_of_a_reference_checkpoint_translates_as_the_original(tmp_path: Path, capsys: Any) -> None:
    torch.manual_seed(0)
    info = i2i.DataInfo(kind=i2i.LABELLED, domains=("a", "b", "c"))
    original = i2i.create_method(
        "stargan_v2", data_info=info, image_size=32, dim_in=8, max_conv_dim=16, hidden_dim=16, style_dim=8, latent_dim=4
    ).eval()
    _reference_file(tmp_path / "100000_nets_ema.ckpt", original)
    out = tmp_path / "imported.pt"
    code, _, err = _cli(
        ["import-weights", str(tmp_path / "100000_nets_ema.ckpt"), "--domains", "x,y,z", "--out", str(out)], capsys
    )
    assert code == 0, err  # the format is recognised from the file
    translator = i2i.load_checkpoint(out)
    method = translator.method
    assert method.domains == ("x", "y", "z")
    assert (method.config.image_size, method.config.dim_in, method.config.style_dim, method.config.latent_dim) == (
        32,
        8,
        8,
        4,
    )
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    z = torch.randn(1, 4)
    got = translator.translate(x, target="y", z=z)
    with torch.no_grad():
        expected = original.G(x, original.F(z.expand(2, 4), torch.ones(2, dtype=torch.long))).clamp(-1, 1)
    assert torch.allclose(got, expected, atol=1e-5)
    code, _, err = _cli(
        ["import-weights", str(tmp_path / "100000_nets_ema.ckpt"), "--domains", "x,y", "--out", str(tmp_path / "o.pt")],
        capsys,
    )
    assert code == 2 and "names 2 domains" in err and not (tmp_path / "o.pt").exists()
