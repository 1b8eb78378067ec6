"""Folder layouts: detection, each builder, kind checks, splits and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from i2i.data import DataConfig
from i2i.data.layouts import LAYOUTS, detect_layout
from i2i.data.pipeline import build_dataset
from i2i.errors import DataError


def img(path: Path, color: tuple[int, int, int] = (10, 20, 30), size: tuple[int, int] = (16, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def side_by_side(path: Path, left: tuple[int, int, int], right: tuple[int, int, int], size: int = 8) -> None:
    whole = Image.new("RGB", (2 * size, size), left)
    whole.paste(Image.new("RGB", (size, size), right), (size, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    whole.save(path)


def config(root: Path, **kw) -> DataConfig:
    return DataConfig(root=str(root), num_workers=0, image_size=8, load_size=8, preprocess="none", **kw)


def unpaired_root(root: Path, n_a: int = 3, n_b: int = 2, test: bool = True) -> Path:
    for i in range(n_a):
        img(root / "trainA" / f"a{i}.png", (i, 0, 0))
    for i in range(n_b):
        img(root / "trainB" / f"b{i}.jpg", (0, i, 0))
    if test:
        img(root / "testA" / "ta.png")
        img(root / "testB" / "tb.png")
    return root


def test_unpaired_detected_and_built(tmp_path: Path) -> None:
    root = unpaired_root(tmp_path)
    assert detect_layout(root) == "unpaired"
    ds = build_dataset(config(root), "unpaired")
    assert len(ds) == 3 and ds.info.kind == "unpaired"
    item = ds[0]
    assert item["a"].dtype == torch.uint8 and item["a"].shape == (3, 12, 16)
    assert item["name_a"] == "a0.png" and item["name_b"] in ("b0.jpg", "b1.jpg")
    test = build_dataset(config(root), "unpaired", split="test")
    assert len(test) == 1 and test[0]["name_a"] == "ta.png"


def test_unpaired_b_partner_follows_the_token(tmp_path: Path) -> None:
    ds = build_dataset(config(unpaired_root(tmp_path)), "unpaired")
    assert ds[(0, 0)]["name_b"] == "b0.jpg" and ds[(0, 1)]["name_b"] == "b1.jpg"
    serial = build_dataset(config(tmp_path, serial_batches=True), "unpaired")
    assert [serial[(i, 7)]["name_b"] for i in range(3)] == ["b0.jpg", "b1.jpg", "b0.jpg"]


def test_unpaired_length_is_the_larger_domain_like_the_reference(tmp_path: Path) -> None:
    ds = build_dataset(config(unpaired_root(tmp_path, n_a=2, n_b=5, test=False)), "unpaired")
    assert len(ds) == 5 and ds[(4, 3)]["name_a"] == "a0.png" and ds[(4, 3)]["name_b"] == "b3.jpg"


def test_test_split_falls_back_to_train_with_a_warning(tmp_path: Path) -> None:
    root = unpaired_root(tmp_path, test=False)
    with pytest.warns(UserWarning, match="no test/ or val/"):
        ds = build_dataset(config(root), "unpaired", split="test")
    assert len(ds) == 3


def test_aligned_side_by_side_and_direction(tmp_path: Path) -> None:
    side_by_side(tmp_path / "train" / "0.png", (255, 0, 0), (0, 0, 255))
    side_by_side(tmp_path / "val" / "0.png", (255, 0, 0), (0, 0, 255))
    assert detect_layout(tmp_path) == "aligned"
    item = build_dataset(config(tmp_path), "paired")[0]
    assert item["a"].shape == item["b"].shape == (3, 8, 8)
    assert item["a"][0].float().mean() > 250 and item["b"][2].float().mean() > 250
    flipped = build_dataset(config(tmp_path, direction="BtoA"), "paired")[0]
    assert torch.equal(flipped["a"], item["b"]) and torch.equal(flipped["b"], item["a"])
    assert len(build_dataset(config(tmp_path), "paired", split="test")) == 1  # val/ serves test


def test_paired_folders_match_by_stem_and_resize_b_to_a(tmp_path: Path) -> None:
    img(tmp_path / "train" / "A" / "x.png", size=(16, 12))
    img(tmp_path / "train" / "B" / "x.jpg", size=(32, 24))
    img(tmp_path / "train" / "A" / "y.png")
    img(tmp_path / "train" / "B" / "y.png")
    assert detect_layout(tmp_path) == "paired_folders"
    ds = build_dataset(config(tmp_path), "paired")
    assert len(ds) == 2 and ds[0]["name_a"] == "x.png" and ds[0]["name_b"] == "x.jpg"
    assert ds[0]["b"].shape == ds[0]["a"].shape == (3, 12, 16)
    assert build_dataset(config(tmp_path), "unpaired").info.kind == "unpaired"


def test_missing_partner_is_named(tmp_path: Path) -> None:
    img(tmp_path / "train" / "A" / "x.png")
    img(tmp_path / "train" / "A" / "lonely.png")
    img(tmp_path / "train" / "B" / "x.png")
    with pytest.raises(DataError, match=r"lonely\.png has no partner"):
        build_dataset(config(tmp_path), "paired")


def test_unpaired_folders_serve_a_paired_method_when_stems_match(tmp_path: Path) -> None:
    img(tmp_path / "trainA" / "1.png")
    img(tmp_path / "trainB" / "1.jpg")
    assert build_dataset(config(tmp_path), "paired").info.kind == "paired"


def test_domain_folders_give_one_hot_labels(tmp_path: Path) -> None:
    for domain, n in (("zebra", 2), ("horse", 1), ("cat", 1)):
        for i in range(n):
            img(tmp_path / "train" / domain / f"{i}.png")
    assert detect_layout(tmp_path) == "domains"
    ds = build_dataset(config(tmp_path), "labelled")
    assert ds.info.domains == ("cat", "horse", "zebra") and not ds.info.multi_label
    labels = torch.stack([ds[i]["label"] for i in range(len(ds))])
    assert labels.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]


def write_celeba(root: Path, names: list[str], extra_images: list[str] = ()) -> None:
    lines = [str(len(names)), "Black_Hair Blond_Hair Male Young"]
    for k, name in enumerate(names):
        values = ["1" if (k >> bit) & 1 else "-1" for bit in range(4)]
        lines.append(f"{name}  {'  '.join(values)}")
        img(root / "images" / name)
    for name in extra_images:
        img(root / "images" / name)
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")


def test_attribute_list_gives_multi_hot_labels(tmp_path: Path) -> None:
    names = [f"{i:06d}.jpg" for i in range(1, 21)]
    write_celeba(tmp_path, names)
    assert detect_layout(tmp_path) == "attributes"
    cfg = config(tmp_path, attributes=("Male", "Black_Hair"))
    train, test = build_dataset(cfg, "labelled"), build_dataset(cfg, "labelled", split="test")
    assert len(train) == 18 and len(test) == 2
    assert set(train.files).isdisjoint(test.files)
    assert train.info.domains == ("Male", "Black_Hair") and train.info.multi_label
    for path, label in zip(train.files, train.labels):
        k = int(path.stem) - 1
        assert label.tolist() == [float((k >> 2) & 1), float(k & 1)]


def test_attribute_missing_from_the_file_is_named(tmp_path: Path) -> None:
    write_celeba(tmp_path, ["000001.jpg", "000002.jpg"])
    with pytest.raises(DataError, match=r"'Blond' is not in .*list_attr_celeba\.txt.*Blond_Hair"):
        build_dataset(config(tmp_path, attributes=("Blond",)), "labelled")


def test_unlisted_images_are_ignored_or_strict_error(tmp_path: Path) -> None:
    write_celeba(tmp_path, ["000001.jpg", "000002.jpg", "000003.jpg"], extra_images=["stray.jpg"])
    with pytest.warns(UserWarning, match="not in"):
        ds = build_dataset(config(tmp_path, attributes=("Male",)), "labelled")
    assert all(p.name != "stray.jpg" for p in ds.files)
    with pytest.raises(DataError, match=r"stray\.jpg is not in"):
        build_dataset(config(tmp_path, attributes=("Male",), strict=True), "labelled")


def test_layout_that_cannot_serve_the_kind_is_a_clear_error(tmp_path: Path) -> None:
    side_by_side(tmp_path / "train" / "0.png", (1, 1, 1), (2, 2, 2))
    with pytest.raises(DataError, match="'aligned' layout .* cannot serve a labelled method"):
        build_dataset(config(tmp_path), "labelled")
    img(tmp_path / "dom" / "train" / "x" / "0.png")
    img(tmp_path / "dom" / "train" / "y" / "0.png")
    with pytest.raises(
        DataError, match="'domains' layout .* cannot serve an unpaired method; unpaired data needs trainA/"
    ):
        build_dataset(config(tmp_path / "dom"), "unpaired")


def test_named_layout_and_registry_record(tmp_path: Path) -> None:
    from i2i.plugins import builtin_datasets

    names = [spec.name for spec in builtin_datasets.i2i_register_datasets()]
    assert names == list(LAYOUTS)
    unpaired_root(tmp_path)
    with pytest.raises(DataError, match="has no train/ folder"):
        build_dataset(config(tmp_path, layout="aligned"), "paired")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "cannot tell the layout"),
        (lambda root: (root / "trainA").mkdir(parents=True) or img(root / "trainB" / "b.png"), "no images"),
        (
            lambda root: (root / "train").mkdir(parents=True) or (root / "train" / "notes.txt").write_text("x"),
            "cannot tell the layout",
        ),
    ],
    ids=["missing", "empty", "empty-trainA", "no-images"],
)
def test_missing_or_empty_folders_are_one_line_errors(tmp_path: Path, setup, message: str) -> None:
    root = tmp_path / "data"
    setup(root)
    with pytest.raises(DataError, match=message) as info:
        build_dataset(config(root), "unpaired")
    assert "\n" not in str(info.value) and str(root) in str(info.value)


def test_zero_byte_files_are_skipped_at_scan_or_strict(tmp_path: Path) -> None:
    root = unpaired_root(tmp_path)
    (root / "trainA" / "empty.png").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"empty\.png: empty file"):
        ds = build_dataset(config(root), "unpaired")
    assert len(ds) == 3 and ds.scan_skipped[0][0].endswith("empty.png")
    with pytest.raises(DataError, match=r"empty\.png"):
        build_dataset(config(root, strict=True), "unpaired")


def test_max_dataset_size(tmp_path: Path) -> None:
    ds = build_dataset(config(unpaired_root(tmp_path, n_a=5, n_b=5), max_dataset_size=2), "unpaired")
    assert len(ds.files_a) == 2 and len(ds.files_b) == 2


def test_host_lists_builtin_layouts_and_serves_a_plugin_layout(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from i2i.data.datasets import LabelledDataset, LoadOptions
    from i2i.plugins.hookspecs import hookimpl
    from i2i.plugins.host import PluginHost, set_host
    from i2i.plugins.registry import DatasetSpec

    made = []

    def frames(config: DataConfig, split: str = "train") -> LabelledDataset:
        made.append(split)
        files = sorted((Path(config.root) / "frames").iterdir())
        return LabelledDataset([(p, [1.0]) for p in files], ["moving"], LoadOptions(preprocess="none"))

    @hookimpl
    def i2i_register_datasets():
        yield DatasetSpec("frames", frames, "frames/ folder")

    host = PluginHost(
        autoload=False, plugins=[("frames_plugin", SimpleNamespace(i2i_register_datasets=i2i_register_datasets))]
    )
    set_host(host)
    assert set(LAYOUTS) | {"frames"} <= set(host.registry.names("dataset"))
    img(tmp_path / "frames" / "0.png")
    ds = build_dataset(config(tmp_path, layout="frames"), "labelled")
    assert made == ["train"] and ds[0]["label"].tolist() == [1.0]
    from i2i.errors import UsageError

    with pytest.raises(UsageError, match="unknown dataset 'framez'"):
        build_dataset(config(tmp_path, layout="framez"), "labelled")


def test_cross_kind_serving(tmp_path: Path) -> None:
    for i in range(3):
        side_by_side(tmp_path / "sbs" / "train" / f"{i}.png", (i, 0, 0), (0, 0, 100 + i))
    ds = build_dataset(config(tmp_path / "sbs"), "unpaired")
    assert ds.info.kind == "unpaired"
    item = ds[(0, 2)]
    assert (item["name_a"], item["name_b"]) == ("0.png", "2.png") and int(item["b"][2, 0, 0]) == 102
    labelled = build_dataset(config(unpaired_root(tmp_path / "cyc")), "labelled")
    assert labelled.info.domains == ("A", "B") and len(labelled) == 5
    assert [labelled[i]["label"].tolist() for i in (0, 4)] == [[1.0, 0.0], [0.0, 1.0]]


def test_sub_folders_are_walked_like_the_reference(tmp_path: Path) -> None:
    unpaired_root(tmp_path, test=False)
    img(tmp_path / "trainA" / "more" / "deep.png")
    (tmp_path / "trainA" / "notes.txt").write_text("ignored")
    ds = build_dataset(config(tmp_path), "unpaired")
    assert [p.name for p in ds.files_a] == ["a0.png", "a1.png", "a2.png", "deep.png"]
