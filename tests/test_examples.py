"""The examples stay runnable: the third-party plugin installs and registers, the composition
script trains, and the classic configs load against the current config classes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import i2i

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", I2I_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("I2I_PLUGINS", None)
    env.update(extra)
    return env


def test_third_party_plugin_installs_and_registers_cut(tmp_path: Path) -> None:
    """pip-install the real package into a private folder (the venv is not touched) and let a
    fresh ``i2i`` process find its entry point there."""
    source = tmp_path / "src"
    shutil.copytree(
        EXAMPLES / "third_party_plugin", source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__")
    )
    target = tmp_path / "site"
    pip = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--target",
        str(target),
        str(source),
    ]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=120, env=_env(tmp_path))
    assert installed.returncode == 0, installed.stderr
    assert list(target.glob("i2i_cut-*.dist-info/entry_points.txt"))

    env = _env(tmp_path, PYTHONPATH=str(target))
    listed = subprocess.run(
        [sys.executable, "-m", "i2i", "list", "methods"], capture_output=True, text=True, timeout=120, env=env
    )
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    assert {"cut", "fastcut", "pix2pix", "cyclegan"} <= names

    # the plugin that answered is the one just installed into the private folder
    where = subprocess.run(
        [sys.executable, "-c", "import i2i, i2i_cut; print(i2i_cut.__file__); print(i2i.get_method('cut').plugin)"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert where.returncode == 0, where.stderr
    module_file, plugin = where.stdout.splitlines()
    assert Path(module_file).is_relative_to(target) and "i2i-cut" in plugin


def test_compose_example_trains(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        str(EXAMPLES / "compose.py"),
        "--steps",
        "3",
        "--out",
        str(out),
        "--set",
        "method.ngf=8",
        "--set",
        "method.ndf=8",
        "--set",
        "train.precision=fp32",
        "--set",
        "train.eval_at_end=false",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "trained pix2pix_hinge for 3 steps" in result.stdout
    assert (out / "last.pt").is_file()


def test_composed_method_passes_the_conformance_checks() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import compose
    finally:
        sys.path.remove(str(EXAMPLES))
    from i2i.testing import MethodCase, check_train_steps, check_translate_shapes

    case = MethodCase.from_registry("pix2pix_hinge", host=compose.make_host())
    check_train_steps(case)
    check_translate_shapes(case)


CONFIGS = {
    "facades_pix2pix.toml": ("pix2pix", {"netG": "unet_256", "gan_mode": "vanilla", "lambda_L1": 100.0}),
    "horse2zebra_cyclegan.toml": (
        "cyclegan",
        {"netG": "resnet_9blocks", "lambda_A": 10.0, "lambda_identity": 0.5, "pool_size": 50},
    ),
    "edges2shoes_augcyclegan.toml": ("augcyclegan", {"nlatent": 16, "lambda_latent": 0.025}),
    "celeba_stargan.toml": ("stargan", {"image_size": 128, "n_critic": 5, "lambda_rec": 10.0, "lambda_gp": 10.0}),
    "demo_two_datasets_stargan.toml": ("stargan", {"image_size": 64, "n_critic": 1}),
}


def test_every_example_config_is_tested() -> None:
    assert sorted(p.name for p in (EXAMPLES / "configs").glob("*.toml")) == sorted(CONFIGS)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_example_configs_load(name: str) -> None:
    method, expected = CONFIGS[name]
    config = i2i.load_config(EXAMPLES / "configs" / name, overrides={"data.root": "/nonexistent/dataset"})
    assert config.method_name == method
    assert config.data.root == "/nonexistent/dataset"
    for key, value in expected.items():
        assert getattr(config.method, key) == value, key
    assert config.train.batch_size >= 1 and config.data.image_size in (64, 128, 256)
