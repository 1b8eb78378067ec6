"""Config values are checked by the config classes, in every layer, with one-sentence errors.

Table-driven: every constrained field of ``[train]``, ``[data]`` and each built-in method's
``[method]`` gets one bad value through ``i2i config check`` (in the file) and through
``i2i run`` (as ``--set``); both must exit 2 with ``error: <where>: <table.key>: must ...``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import attrs
import pytest
from attrs import validators as v

import i2i
from i2i.cli.main import main
from i2i.config import run as config
from i2i.config.validation import COMPONENT_KEY, _Bound, _Distinct, _Matches, _OneOf
from i2i.data.config import DataConfig
from i2i.errors import ConfigError
from i2i.train.config import TrainConfig

BUILTIN_METHODS = ("cyclegan", "pix2pix", "stargan", "augcyclegan", "colorization")


def _bad_value(validator: Any) -> Any:
    """A value ``validator`` rejects, derived from what it allows (so new rules get covered)."""
    if isinstance(validator, type(v.optional(v.ge(0)))):
        return _bad_value(validator.validator)
    if isinstance(validator, type(v.and_(v.ge(0), v.le(1)))):
        return _bad_value(validator._validators[0])
    if isinstance(validator, (_OneOf, type(v.in_(())))):
        options = validator.choices if isinstance(validator, _OneOf) else validator.options
        return 2 if all(isinstance(o, int) for o in options) else "bogus"
    if isinstance(validator, _Bound):
        return (validator.low - 1) if validator.low is not None else validator.high + 1
    if hasattr(validator, "bound") and hasattr(validator, "compare_op"):  # attrs ge/gt/le/lt
        return {">=": validator.bound - 1, ">": validator.bound, "<=": validator.bound + 1, "<": validator.bound}[
            validator.compare_op
        ]
    if isinstance(validator, _Matches):
        return "not a valid value!"
    if isinstance(validator, _Distinct):
        return ["x", "x"]
    raise AssertionError(f"no bad value known for {validator!r}: add a row to EXPLICIT")


#: Fields whose rule a bad value cannot be derived for.
EXPLICIT: dict[tuple[str, str], Any] = {}


def _rows(table: str, cls: Any) -> list[tuple[str, str, Any]]:
    rows = []
    for field in attrs.fields(cls):
        key = f"{table}.{field.name}"
        if (table, field.name) in EXPLICIT:
            rows.append((key, field.name, EXPLICIT[table, field.name]))
        elif COMPONENT_KEY in field.metadata:
            rows.append((key, field.name, "no_such_component"))
        elif field.validator is not None:
            rows.append((key, field.name, _bad_value(field.validator)))
    return rows


def _method_rows() -> list[tuple[str, str, str, Any]]:
    host = i2i.PluginHost()
    out = []
    for name in BUILTIN_METHODS:
        for key, field, bad in _rows("method", host.registry.get("method", name).config):
            out.append((name, key, field, bad))
    return out


CASES = [
    ("cyclegan", key, f, bad)
    for table, cls in (("train", TrainConfig), ("data", DataConfig))
    for key, f, bad in _rows(table, cls)
] + _method_rows()


def _literal(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0), capsys.readouterr().err


def _assert_one_error(err: str, where: str, key: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.match(rf"^error: {re.escape(where)}: {re.escape(key)}: (must|expected) .*, got ", lines[0]), lines[0]


def test_the_table_covers_the_rules_the_issue_names():
    keys = {(m, k) for m, k, _, _ in CASES}
    for key in (
        "train.precision",
        "train.schedule",
        "train.ema",
        "data.direction",
        "data.preprocess",
        "data.layout",
        "train.batch_size",
        "train.device",
        "data.image_size",
    ):
        assert ("cyclegan", key) in keys
    for key in ("method.gan_mode", "method.netG", "method.norm", "method.netD", "method.init_type"):
        assert ("cyclegan", key) in keys and ("pix2pix", key) in keys
    assert len(CASES) > 80


@pytest.mark.parametrize(("method", "key", "field", "bad"), CASES, ids=[f"{m}-{k}" for m, k, _, _ in CASES])
def test_bad_value_fails_config_check_and_run(method, key, field, bad, tmp_path, capsys):
    table = key.split(".")[0]
    path = tmp_path / "bad.toml"
    body = f'[method]\nname = "{method}"\n'
    body += f"{field} = {_literal(bad)}\n" if table == "method" else f"[{table}]\n{field} = {_literal(bad)}\n"
    path.write_text(body)
    code, err = _cli(capsys, "config", "check", str(path))
    assert code == 2
    _assert_one_error(err, str(path), key)

    out = tmp_path / "run"
    code, err = _cli(
        capsys, "run", "--method", method, "--out", str(out), "--steps", "1", "--set", f"{key}={_literal(bad)}"
    )
    assert code == 2
    _assert_one_error(err, "--set", key)
    assert not out.exists()  # nothing started


def test_the_issue_examples_read_as_sentences():
    cases = {
        "train.precision=fp8": "--set: train.precision: must be one of auto, fp32, bf16, fp16, got 'fp8'",
        "train.ema=1.5": "--set: train.ema: must be in (0.0, 1.0), got 1.5",
        "train.batch_size=0": "--set: train.batch_size: must be >= 1, got 0",
        "train.device=tpu9": "--set: train.device: must be auto, cpu, cuda, cuda:N or mps, got 'tpu9'",
        "method.netG=resnet_99blocks_x": "did you mean 'resnet_9blocks'?",
        "method.ngf=-1": "--set: method.ngf: must be > 0, got -1",
        "method.lr=inf": "--set: method.lr: expected a finite number, got inf",
        "method.lr=nan": "--set: method.lr: expected a finite number, got nan",
        "train.grad_clip=-inf": "--set: train.grad_clip: expected a finite number, got -inf",
        "data=5": "--set: data: is a table, set its keys (data.KEY=VALUE), got int 5",
        "data.image_size=5": "--set: data.image_size: must be >= 8, got 5",
        "data.crop_size=128": "--set: data.crop_size: unknown key; did you mean 'image_size' (the reference crop_size)?",
        "method.n_epochs=5": "--set: method.n_epochs: unknown key; the reference n_epochs is train.epochs",
    }
    for item, message in cases.items():
        with pytest.raises(ConfigError) as info:
            i2i.load_config(method="cyclegan", overrides=[item])
        assert message in str(info.value), item


# -- every layer is checked ---------------------------------------------------------------------
def test_a_bad_file_value_is_an_error_even_when_a_flag_overrides_it(tmp_path, capsys):
    path = tmp_path / "f.toml"
    path.write_text('[method]\nname = "cyclegan"\n[train]\nsteps = "many"\n')
    code, err = _cli(capsys, "run", "--config", str(path), "--steps", "1", "--out", str(tmp_path / "o"))
    assert code == 2 and f"error: {path}: train.steps: expected int, got 'many'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "train.steps=abc", "--steps", "1"], "error: --set: train.steps: expected int, got 'abc'"),
        (
            ["--set", "train.batch_size=0", "--batch-size", "2"],  # (a second --set replaces it)
            "error: --set: train.batch_size: must be >= 1",
        ),
        (["--set", "train.device=tpu9", "--device", "cpu"], "error: --set: train.device: must be"),
        (["--device", "tpu9"], "error: --device: train.device: must be auto, cpu, cuda, cuda:N or mps, got 'tpu9'"),
        (["--set", "data.image_size=5"], "error: --set: data.image_size: must be >= 8, got 5"),
        (["--set", "data=5"], "error: --set: data: is a table"),
        (["--seed", str(2**64)], "error: --seed: train.seed: must be in [-9223372036854775808, 9223372036854710271]"),
    ],
)
def test_each_set_and_flag_is_checked(args, message, tmp_path, capsys):
    code, err = _cli(capsys, "run", "--method", "cyclegan", "--out", str(tmp_path / "o"), *args)
    assert code == 2 and message in err, err


def test_a_resumed_runs_saved_config_is_checked(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.toml").write_text('[method]\nname = "cyclegan"\n[train]\nprecision = "fp8"\n')
    code, err = _cli(capsys, "run", "--resume", "--out", str(out), "--steps", "5")
    assert code == 2 and f"error: {out / 'config.toml'}: train.precision: must be one of" in err


def test_unknown_key_from_set_does_not_blame_the_file(tmp_path, capsys):
    path = tmp_path / "my.toml"
    path.write_text('[method]\nname = "cyclegan"\n')
    code, err = _cli(capsys, "config", "check", str(path), "--set", "method.lambda_cycle=5")
    assert code == 2
    assert err.startswith("error: --set: method.lambda_cycle: unknown key") and "my.toml" not in err


def test_config_check_reports_a_valid_file(tmp_path, capsys):
    path = tmp_path / "ok.toml"
    path.write_bytes(b'\xef\xbb\xbf[method]\nname = "pix2pix"\n')  # a UTF-8 BOM is fine
    with pytest.raises(SystemExit) as exit_info:
        main(["config", "check", str(path)])
    assert exit_info.value.code == 0
    assert "is a valid pix2pix config" in capsys.readouterr().out


def test_unreadable_config_files_are_clear_errors(tmp_path, capsys):
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    code, err = _cli(capsys, "config", "check", str(deep))
    assert code == 2 and "nested too deeply" in err
    code, err = _cli(capsys, "config", "check", "/dev/zero")
    assert code == 2 and "larger than 4 MiB" in err
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00x")
    code, err = _cli(capsys, "config", "check", str(binary))
    assert code == 2 and "not a text TOML file" in err


# -- a plugin author's validators -------------------------------------------------------------------
def _too_big(_instance: Any, attribute: Any, value: int) -> None:
    if value > 10:
        raise ValueError(f"{attribute.name} is too big for this network ({value} > 10)")


@attrs.frozen
class AuthorConfig:
    mode: str = attrs.field(default="wgan", validator=v.in_(("wgan", "wgangp")))
    width: int = attrs.field(default=8, validator=v.ge(1))
    rate: float = attrs.field(default=0.1, validator=v.gt(0))
    tag: str = attrs.field(default="a1", validator=v.matches_re(r"[a-z]\d"))
    count: Any = attrs.field(default=1, validator=v.instance_of(int))  # typed Any: cattrs passes it through
    depth: int = attrs.field(default=3, validator=_too_big)
    name: str = attrs.field(default="x", validator=v.min_len(1))
    limit: int | None = attrs.field(default=None, validator=v.optional(v.and_(v.ge(0), v.lt(5))))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mode": "wgan-gp"}, "method.mode: must be one of wgan, wgangp, got 'wgan-gp'"),
        ({"width": 0}, "method.width: must be >= 1, got 0"),
        ({"rate": 0.0}, "method.rate: must be > 0, got 0.0"),
        ({"tag": "Z"}, "method.tag: must match the pattern '[a-z]\\\\d', got 'Z'"),
        ({"depth": 11}, "method.depth: is too big for this network (11 > 10)"),
        ({"name": ""}, "method.name: must have length >= 1, got length 0"),
        ({"limit": 7}, "method.limit: must be < 5, got 7"),
        ({"count": "3"}, "method.count: must be int, got '3'"),
    ],
)
def test_any_attrs_validator_reads_as_a_sentence(data, message):
    with pytest.raises(ConfigError) as info:
        config.structure(data, AuthorConfig, "method")
    assert str(info.value) == message


def test_direct_construction_is_checked_too():
    with pytest.raises(ValueError, match=r"must be one of auto, fp32, bf16, fp16, got 'fp8'"):
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match="must be >= 8"):
        attrs.evolve(DataConfig(), image_size=4)
    assert math.isclose(TrainConfig(ema=0.999).ema or 0, 0.999)


def test_api_configs_get_registered_names_checked(tmp_path):
    cfg = i2i.load_config(method="pix2pix")
    bad = attrs.evolve(cfg, method=attrs.evolve(cfg.method, netG="unet_9999"))
    with pytest.raises(ConfigError, match=r"method.netG: must be a registered generator .* got 'unet_9999'"):
        i2i.Trainer(bad, out_dir=tmp_path / "o")
    assert not Path(tmp_path / "o").exists()


def test_rules_across_fields_see_the_final_values_of_the_other_layers(tmp_path, capsys):
    cfg = i2i.load_config(method="cyclegan", overrides=["data.load_size=72", "data.image_size=64"])
    assert (cfg.data.image_size, cfg.data.load_size) == (64, 72)
    with pytest.raises(ConfigError, match=r"^--set: data.load_size: must be >= data.image_size \(64\)"):
        i2i.load_config(method="cyclegan", overrides=["data.load_size=60", "data.image_size=64"])
    from i2i.cli.main import resolve_run_config

    cfg = resolve_run_config("cyclegan", None, [], image_size=300)  # load_size follows the flag
    assert cfg.data.image_size == 300 and cfg.data.load_size >= 300


def test_rotation_above_a_full_turn_is_refused_before_the_run(capsys):
    """kornia refused degrees above 360 only once augmentation ran."""
    code, err = _cli(capsys, "config", "show", "--method", "cyclegan", "--set", "data.rotation=400")
    assert code == 2 and err.strip() == "error: --set: data.rotation: must be in [0.0, 360.0], got 400.0"
    assert i2i.load_config(method="cyclegan", overrides=["data.rotation=360"]).data.rotation == 360.0
