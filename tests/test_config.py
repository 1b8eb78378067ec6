"""Run configs: layering, strict structuring, TOML round trip, error messages."""

from __future__ import annotations

import pytest

import i2i
from i2i.config import run as config
from i2i.errors import ConfigError, UsageError


def test_defaults_layering_demo_only_without_data(dummy_host):
    demo = i2i.load_config(method="dummy")
    assert demo.train.steps == 4  # demo_defaults apply with no data root
    assert demo.train.batch_size == 2  # MethodSpec.defaults
    assert demo.data.image_size == 32
    real = i2i.load_config(method="dummy", overrides={"data.root": "/somewhere"})
    assert real.train.steps is None  # ... but not when the user brings data
    assert real.data.root == "/somewhere"


def test_overrides_reach_any_key_and_win(dummy_host, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[method]\nname = "dummy"\nlambda_l1 = 3.0\n[train]\nbatch_size = 8\n')
    cfg = i2i.load_config(path, overrides=["method.lambda_l1=5", "train.seed=7", "data.attributes=Male,Young"])
    assert cfg.method.lambda_l1 == 5.0 and isinstance(cfg.method.lambda_l1, float)
    assert cfg.train.batch_size == 8 and cfg.train.seed == 7
    assert cfg.data.attributes == ("Male", "Young")


def test_toml_round_trip_is_exact(dummy_host, tmp_path):
    for demo in (False, True):
        cfg = i2i.default_config("dummy", demo=demo)
        path = tmp_path / f"c{demo}.toml"
        path.write_text(config.to_toml(cfg))
        assert i2i.load_config(path) == cfg


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('method.lambda_l1="ten"', "method.lambda_l1: expected float, got 'ten'"),
        ("method.lambda_l11=1", "method.lambda_l11: unknown key; did you mean 'lambda_l1'?"),
        ("train.batch_size=2.5", "train.batch_size: expected int"),
        ("train.batch_size=true", "train.batch_size: expected int"),
        ("data.flip=no", "data.flip: expected bool"),
        ("trian.steps=3", "trian: unknown key; did you mean 'train'?"),
        ("data.attributes=3", "data.attributes: expected list"),
    ],
)
def test_errors_name_the_dotted_path(dummy_host, override, message):
    with pytest.raises(ConfigError) as info:
        i2i.load_config(method="dummy", overrides=[override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_file_errors_name_the_file(dummy_host, tmp_path):
    with pytest.raises(ConfigError, match="missing.toml: config file not found"):
        i2i.load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[method\nname=")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        i2i.load_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('[method]\nname = "dummy"\nwidht = 3\n')
    with pytest.raises(ConfigError, match=r"typo.toml: method.widht: unknown key; did you mean 'width'\?"):
        i2i.load_config(typo)
    nomethod = tmp_path / "nomethod.toml"
    nomethod.write_text("[train]\nsteps = 3\n")
    with pytest.raises(ConfigError, match="no method given"):
        i2i.load_config(nomethod)


def test_unknown_method_suggests_close_matches(dummy_host):
    with pytest.raises(UsageError, match="unknown method 'dumy'; did you mean 'dummy'"):
        i2i.load_config(method="dumy")


def test_set_parsing():
    assert config.parse_override("a.b=5") == ("a.b", 5)
    assert config.parse_override("a.b=5.0") == ("a.b", 5.0)
    assert config.parse_override("a.b=true") == ("a.b", True)
    assert config.parse_override("data.root=/x/y z") == ("data.root", "/x/y z")
    assert config.parse_override('a=["x", "y"]') == ("a", ["x", "y"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        config.parse_override("novalue")


def test_create_method_checks_overrides(dummy_host):
    method = i2i.create_method("dummy", width=2)
    assert method.config.width == 2
    with pytest.raises(ConfigError, match="method.widht: unknown key"):
        i2i.create_method("dummy", widht=2)


def test_validator_errors_name_the_field():
    with pytest.raises(ConfigError, match=r"^--set: method\.ngf: must be > 0, got -1$"):
        i2i.load_config(method="pix2pix", overrides=["method.ngf=-1"])
