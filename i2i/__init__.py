"""i2i: image-to-image translation with GANs, every method a plugin.

Everything a user or a plugin author needs is importable from here (``from i2i import
MethodSpec, Method, hookimpl, create_generator``); plugins import nothing else from i2i
(``i2i.testing`` aside, in their tests). Names resolve lazily so ``import i2i`` stays cheap
and loads no plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from i2i._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # plugin system
    "hookimpl": "i2i.hookspecs",
    "hookspec": "i2i.hookspecs",
    "PluginHost": "i2i.plugins",
    "get_host": "i2i.plugins",
    "MethodSpec": "i2i.registry",
    "ComponentSpec": "i2i.registry",
    "GeneratorSpec": "i2i.registry",
    "DiscriminatorSpec": "i2i.registry",
    "LossSpec": "i2i.registry",
    "DatasetSpec": "i2i.registry",
    "CommandSpec": "i2i.registry",
    # reference-weight importers (i2i_register_importers)
    "ImporterSpec": "i2i.registry",
    "ConvertedGenerator": "i2i.registry",
    "ImportRequest": "i2i.registry",
    "ImportPlan": "i2i.registry",
    "load_reference_file": "i2i.weights_import",
    "drop_norm_statistics": "i2i.weights_import",
    "convert_generator_state_dict": "i2i.weights_import",
    "convert_image_generator": "i2i.weights_import",
    "image_generator_family": "i2i.weights_import",
    "image_generator_config": "i2i.weights_import",
    "LoggerSpec": "i2i.registry",
    "RunLogger": "i2i.train.tracking",
    "TrackedRun": "i2i.train.tracking",
    # errors
    "I2IError": "i2i.errors",
    "UsageError": "i2i.errors",
    "ConfigError": "i2i.errors",
    "DataError": "i2i.errors",
    "CheckpointError": "i2i.errors",
    "PluginError": "i2i.errors",
    # the method contract
    "Method": "i2i.method",
    "DataInfo": "i2i.method",
    "LabelSource": "i2i.method",
    "StepContext": "i2i.method",
    "set_requires_grad": "i2i.method",
    "PAIRED": "i2i.method",
    "UNPAIRED": "i2i.method",
    "LABELLED": "i2i.method",
    "EvalCapabilities": "i2i.eval.capabilities",
    "EvalMetric": "i2i.eval.capabilities",
    "EvalContext": "i2i.eval.capabilities",
    "Direction": "i2i.eval.capabilities",
    "Batch": "i2i.data.batch",
    # configs
    "RunConfig": "i2i.config",
    "DataConfig": "i2i.data.config",
    "DataSource": "i2i.data.config",
    "TrainConfig": "i2i.train.config",
    "TrackingConfig": "i2i.train.config",
    "load_config": "i2i.api",
    "default_config": "i2i.api",
    # registries (timm/torchvision style)
    "list_methods": "i2i.api",
    "get_method": "i2i.api",
    "create_method": "i2i.api",
    "list_components": "i2i.api",
    "create_generator": "i2i.api",
    "create_discriminator": "i2i.api",
    "create_loss": "i2i.api",
    "create_gan_loss": "i2i.api",
    # building blocks for methods
    "init_weights": "i2i.nets",
    "maybe_init": "i2i.nets.init",
    "get_norm_layer": "i2i.nets.norm",
    "conv_bias": "i2i.nets.norm",
    "instance_norm": "i2i.nets.norm",
    "full_precision": "i2i.nets.base",
    "ImagePool": "i2i.nets.pool",
    "GANLoss": "i2i.losses",
    "gan_loss": "i2i.losses",
    "gradient_penalty": "i2i.losses",
    "adam": "i2i.optim",
    "fit_generator_to_size": "i2i.nets.sizing",
    # reading the reference code's options (i2i config from-reference)
    "ReferenceSpec": "i2i.reference_options",
    "ReferenceOption": "i2i.reference_options",
    "JUNYANZ_OPTIONS": "i2i.reference_options",
    "convert_reference": "i2i.reference_options",
    "unet_for_size": "i2i.nets.sizing",
    # training and inference
    "Trainer": "i2i.train.trainer",
    "run": "i2i.api",
    "load_checkpoint": "i2i.inference",
    "Translator": "i2i.inference",
    # what a method declares for inference
    "TranslateOption": "i2i.inference.spec",
    "ExportInput": "i2i.inference.spec",
    "image_input": "i2i.inference.spec",
    # reading files a translate option names
    "read_image": "i2i.image_io",
    "read_attribute_file": "i2i.data.attributes",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover - what type checkers see of the lazy exports below
    from i2i.data.attributes import read_attribute_file as read_attribute_file
    from i2i.image_io import read_image as read_image
    from i2i.inference import Translator as Translator, load_checkpoint as load_checkpoint
    from i2i.inference.spec import ExportInput as ExportInput, TranslateOption as TranslateOption, image_input as image_input

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # what mypy sees of the lazy exports above (evaluation capabilities, importers)
    from i2i.api import create_gan_loss
    from i2i.eval.capabilities import Direction, EvalCapabilities, EvalContext, EvalMetric
    from i2i.data.config import DataSource
    from i2i.method import LabelSource
    from i2i.registry import ConvertedGenerator, ImporterSpec, ImportPlan, ImportRequest
    from i2i.weights_import import (
        convert_generator_state_dict,
        convert_image_generator,
        drop_norm_statistics,
        image_generator_config,
        image_generator_family,
        load_reference_file,
    )
