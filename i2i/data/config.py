"""The ``[data]`` table of a run config."""

from __future__ import annotations

from typing import ClassVar

import attrs

from i2i.config.validation import any_tuple, at_least, between, component_field, distinct, one_of, str_tuple

#: ``data.direction`` values: which side of a pair is the input.
DIRECTIONS = ("AtoB", "BtoA")
#: ``data.preprocess`` values, the reference ``--preprocess`` modes.
PREPROCESS_MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
#: Image channel counts i2i decodes to (grey, RGB, RGBA).
CHANNELS = (1, 3, 4)
#: The smallest ``data.image_size`` (``--image-size`` has the same minimum).
MIN_IMAGE_SIZE = 8

#: StarGAN's paper attributes, the default choice for a CelebA-style attribute list.
PAPER_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


@attrs.frozen
class DataSource:
    """One of several labelled data sources of a run (``[[data.sources]]``).

    ``root`` (or ``demo``, a built-in labelled demo task) and ``layout`` as in ``[data]``; each
    source has its own labels (``attributes`` / ``attribute_file`` for a CelebA-style list, or
    one folder per domain) and its own worker-side resize (``load_size``, ``preprocess``); unset
    values come from ``[data]``. ``name`` (default: the demo name or the root folder's name)
    qualifies its labels where two sources share one (``rafd:happy``).
    """

    root: str | None = None
    demo: str | None = None
    name: str | None = None
    layout: str = "auto"
    attributes: tuple[str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple), validator=distinct()
    )
    attribute_file: str | None = None
    load_size: int | None = None
    preprocess: str | None = None
    max_dataset_size: int | None = None


@attrs.frozen
class DataConfig:
    """Where the images come from and how they are augmented on the device.

    ``root`` unset means the built-in demo task ``demo`` (derived from shipped CC0 photos;
    ``None`` picks the default for the method's data kind: ``edges2photos``, ``photo2grade``
    or ``grades``). ``layout`` is ``auto`` (detected) or a registered dataset layout:
    ``unpaired``, ``aligned``, ``paired_folders``, ``domains``, ``attributes`` or a plugin's.
    ``direction`` (``AtoB``/``BtoA``) picks which side of a pair is the input.
    ``image_size`` is the crop the networks see (the reference ``crop_size``), ``load_size``
    what images are resized to first; ``preprocess`` is one of the reference modes
    ``resize_and_crop``, ``crop``, ``scale_width``, ``scale_width_and_crop``, ``none``.
    ``channels`` (1, 3 or 4) is what A images are converted to, ``channels_b`` the same for
    B (unset: as A). ``attributes`` are the label columns of a CelebA-style list found in the
    root (``list_attr_celeba.txt``) or at ``attribute_file``. Bad image files are skipped with
    a warning and counted, or stop the run when ``strict``; images over ``max_image_pixels``
    are refused from their header. ``max_dataset_size`` keeps the first N files (name order)
    of each folder; ``serial_batches`` turns shuffling off (and pairs unpaired B by index).
    ``independent_unpaired`` gives unpaired A and B independent random geometry;
    ``color_jitter`` (strength), ``rotation`` (degrees) and ``affine`` add augmentations.
    ``keep_16bit``: 16-bit PNG/TIFF (grey or RGB(A)) and float TIFF images train at full
    precision (decoded to float, no bit dropped; a 16-bit RGB TIFF whose compression needs the
    optional ``imagecodecs`` is refused, not truncated); false scales them to 8 bits first, as
    8-bit images are.
    ``sources``: two or more labelled data sources trained together (StarGAN's mask vector,
    :mod:`i2i.data.sources`); each batch comes from one source, in turn. Set, they replace
    ``root``/``demo``.
    """

    #: one line per key for ``docs/config.md`` (generated; a test keeps it complete)
    field_help: ClassVar[dict[str, str]] = {
        "root": "the data folder",
        "demo": "the built-in demo task used when `root` is unset",
        "layout": "auto (detected) or a registered dataset layout (see: i2i list datasets)",
        "direction": "AtoB or BtoA: which side of a pair is the input",
        "image_size": "the crop the networks see",
        "load_size": "what images are resized to before the crop (at least image_size for the *_and_crop modes)",
        "preprocess": "resize_and_crop, crop, scale_width, scale_width_and_crop or none",
        "flip": "random horizontal flips",
        "channels": "channels A images are converted to (1, 3 or 4)",
        "channels_b": "channels B images are converted to (1, 3 or 4)",
        "attributes": "label columns of a CelebA-style attribute list",
        "attribute_file": "the attribute list (CelebA's list_attr_celeba.txt format)",
        "strict": "stop at the first bad image file instead of skipping it with a warning",
        "max_dataset_size": "keep the first N files (name order) of each folder",
        "max_image_pixels": "refuse images with more pixels than this, from their header",
        "num_workers": "DataLoader worker processes that decode images",
        "serial_batches": "no shuffling (unpaired B paired by index)",
        "independent_unpaired": "unpaired A and B get independent random geometry",
        "color_jitter": "strength of a random colour jitter (0: off)",
        "rotation": "degrees of a random rotation (0: off)",
        "affine": "a random affine warp",
        "keep_16bit": "decode 16-bit images at 16 bits instead of 8",
        "sources": "several labelled datasets, each its own [[data.sources]] table (StarGAN multi-dataset)",
    }
    #: what an unset (absent) optional key means, for ``i2i config show`` and the docs
    unset_help: ClassVar[dict[str, str]] = {
        "root": "the built-in demo data",
        "demo": "the default demo for the method's data kind",
        "channels_b": "as data.channels",
        "attribute_file": "list_attr_celeba.txt found in the root",
        "max_dataset_size": "every file",
    }

    root: str | None = None
    demo: str | None = None
    layout: str = component_field("dataset", "auto", also=("auto",))
    direction: str = attrs.field(default="AtoB", validator=one_of(*DIRECTIONS))
    image_size: int = attrs.field(default=256, validator=at_least(MIN_IMAGE_SIZE))
    load_size: int = attrs.field(default=286, validator=at_least(1))
    preprocess: str = attrs.field(default="resize_and_crop", validator=one_of(*PREPROCESS_MODES))
    flip: bool = True
    channels: int = attrs.field(default=3, validator=one_of(*CHANNELS))
    channels_b: int | None = attrs.field(default=None, validator=attrs.validators.optional(one_of(*CHANNELS)))
    attributes: tuple[str, ...] = attrs.field(default=PAPER_ATTRIBUTES, converter=str_tuple, validator=distinct())
    attribute_file: str | None = None
    strict: bool = False
    max_dataset_size: int | None = attrs.field(default=None, validator=at_least(1))
    max_image_pixels: int = attrs.field(default=89_478_485, validator=at_least(1))
    num_workers: int = attrs.field(default=2, validator=at_least(0))
    serial_batches: bool = False
    independent_unpaired: bool = True
    color_jitter: float = attrs.field(default=0.0, validator=at_least(0.0))
    # kornia's RandomAffine rejects degrees above 360 mid-run; a full turn is the most there is
    rotation: float = attrs.field(default=0.0, validator=between(0.0, 360.0))
    affine: bool = False
    keep_16bit: bool = True
    sources: tuple[DataSource, ...] = attrs.field(default=(), converter=any_tuple)

    @load_size.validator
    def _load_size_holds_the_crop(self, _attribute: attrs.Attribute[int], value: int) -> None:
        # resize_and_crop / scale_width_and_crop resize to load_size, then crop image_size out of
        # it: a smaller load_size would silently pad every crop (the reference fails outright)
        if self.preprocess in ("resize_and_crop", "scale_width_and_crop") and value < self.image_size:
            raise ValueError(
                f"'load_size' must be >= data.image_size ({self.image_size}) with preprocess {self.preprocess!r}, got {value}"
            )
