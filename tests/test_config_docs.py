"""``docs/config.md`` is generated from the config classes and must be current."""

from __future__ import annotations

from pathlib import Path

import attrs

from i2i.config.docs import field_help, reference_markdown
from i2i.data.config import DataConfig
from i2i.train.config import TrainConfig

DOC = Path(__file__).parents[1] / "docs" / "config.md"


def test_the_configuration_reference_is_up_to_date():
    assert DOC.read_text() == reference_markdown(), (
        "docs/config.md is out of date: regenerate it with `python -m i2i.config.docs > docs/config.md`"
    )


def test_every_key_has_a_meaning_and_reference_names_are_listed():
    text = DOC.read_text()
    import i2i

    for cls, table in ((TrainConfig, "train"), (DataConfig, "data")):
        for field in attrs.fields(cls):
            assert field_help(cls, field.name), f"{table}.{field.name} has no line in {cls.__name__}.field_help"
    for name in ("cyclegan", "pix2pix", "stargan", "augcyclegan"):
        cls = i2i.get_method(name).config
        for field in attrs.fields(cls):
            assert field_help(cls, field.name), (
                f"{name}: method.{field.name} has no meaning (field_help or COMMON_HELP)"
            )
            assert f"`method.{field.name}`" in text
    assert "| `data.image_size` | int | `256` | >= 8 |" in text and "`crop_size`" in text
    assert "unset: the run is epochs + epochs_decay passes over the data" in text


def test_config_show_lists_unset_keys_and_reads_back_unchanged(tmp_path, capsys):
    import pytest

    import i2i
    from i2i.cli.main import main

    for method in ("cyclegan", "stargan", "augcyclegan"):
        with pytest.raises(SystemExit):
            main(["config", "show", "--method", method])
        text = capsys.readouterr().out
        cfg = i2i.default_config(method)
        for table, key in (
            ("train", "steps"),
            ("data", "channels_b"),
            ("data", "max_dataset_size"),
            ("data", "attribute_file"),
        ):
            if getattr(getattr(cfg, table), key) is None:
                assert f"\n# {key} (unset): " in text
        if method == "cyclegan":
            assert "# steps (unset): the run is epochs + epochs_decay passes over the data" in text
        path = tmp_path / f"{method}.toml"
        path.write_text(text)
        assert i2i.load_config(path) == i2i.default_config(method)


def test_the_reference_does_not_depend_on_resolved_annotations():
    """attrs.resolve_types (run by config checks) turns string annotations into types."""
    import attrs as _attrs

    before = reference_markdown()
    _attrs.resolve_types(DataConfig)
    _attrs.resolve_types(TrainConfig)
    assert reference_markdown() == before
