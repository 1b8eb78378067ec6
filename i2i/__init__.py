"""i2i: image-to-image translation with GANs, every method a plugin.

Everything a user or a plugin author needs is importable from here (``from i2i import
MethodSpec, Method, hookimpl, create_generator``); plugins import nothing else from i2i
(``i2i.testing`` aside, in their tests). Names resolve lazily so ``import i2i`` stays cheap
and loads no plugin; the ``TYPE_CHECKING`` imports give type checkers the real types
(``tests/test_public_api.py`` keeps them and ``_EXPORTS`` in step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from i2i._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # plugin system
    "hookimpl": "i2i.plugins.hookspecs",
    "hookspec": "i2i.plugins.hookspecs",
    "PluginHost": "i2i.plugins.host",
    "get_host": "i2i.plugins.host",
    "MethodSpec": "i2i.plugins.registry",
    "ComponentSpec": "i2i.plugins.registry",
    "GeneratorSpec": "i2i.plugins.registry",
    "DiscriminatorSpec": "i2i.plugins.registry",
    "LossSpec": "i2i.plugins.registry",
    "DatasetSpec": "i2i.plugins.registry",
    "CommandSpec": "i2i.plugins.registry",
    # reference-weight importers (i2i_register_importers)
    "ImporterSpec": "i2i.plugins.registry",
    "ConvertedGenerator": "i2i.plugins.registry",
    "ImportRequest": "i2i.plugins.registry",
    "ImportPlan": "i2i.plugins.registry",
    "load_reference_file": "i2i.inference.weights_import",
    "drop_norm_statistics": "i2i.inference.weights_import",
    "convert_generator_state_dict": "i2i.inference.weights_import",
    "check_state_dict_fits": "i2i.inference.weights_import",
    "convert_image_generator": "i2i.inference.weights_import",
    "image_generator_family": "i2i.inference.weights_import",
    "image_generator_config": "i2i.inference.weights_import",
    "LoggerSpec": "i2i.plugins.registry",
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
    "RunView": "i2i.train.view",
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
    "RunConfig": "i2i.config.run",
    "DataConfig": "i2i.data.config",
    "DataSource": "i2i.data.config",
    "TrainConfig": "i2i.train.config",
    "TrackingConfig": "i2i.train.config",
    "load_config": "i2i.api",
    "default_config": "i2i.api",
    # config value rules (attrs validators whose errors read as sentences)
    "one_of": "i2i.config.validation",
    "at_least": "i2i.config.validation",
    "more_than": "i2i.config.validation",
    "between": "i2i.config.validation",
    "matches": "i2i.config.validation",
    "distinct": "i2i.config.validation",
    "component_field": "i2i.config.validation",
    "NORMS": "i2i.nets.norm",
    "INIT_TYPES": "i2i.nets.init",
    "GAN_MODES": "i2i.nets.losses",
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
    "cat_channels": "i2i.nets.concat",
    "ReflectionPad2d": "i2i.nets.padding",
    "ReplicationPad2d": "i2i.nets.padding",
    "ImagePool": "i2i.nets.pool",
    "GANLoss": "i2i.nets.losses",
    "gan_loss": "i2i.nets.losses",
    "gradient_penalty": "i2i.nets.losses",
    "adam": "i2i.optim",
    "fit_generator_to_size": "i2i.nets.sizing",
    "fit_image_size": "i2i.nets.sizing",
    "check_patchgan_size": "i2i.nets.sizing",
    "patchgan_sides": "i2i.nets.sizing",
    # reading the reference code's options (i2i config from-reference)
    "ReferenceSpec": "i2i.config.from_reference",
    "ReferenceOption": "i2i.config.from_reference",
    "JUNYANZ_OPTIONS": "i2i.config.from_reference",
    "convert_reference": "i2i.config.from_reference",
    "unet_for_size": "i2i.nets.sizing",
    # training and inference
    "Trainer": "i2i.train.trainer",
    "run": "i2i.api",
    "load_checkpoint": "i2i.inference",
    "Translator": "i2i.inference",
    "prepare_size": "i2i.inference.sizes",  # pad to a network's size multiple, crop outputs back
    "Checkpoint": "i2i.io.checkpoint",
    "import_reference_checkpoint": "i2i.inference.weights_import",
    # what a method declares for inference
    "TranslateOption": "i2i.inference.spec",
    "ExportInput": "i2i.inference.spec",
    "image_input": "i2i.inference.spec",
    "latent_codes": "i2i.inference.spec",  # a --z option's value as (N, dim) codes
    # reading files a translate option names
    "read_image": "i2i.io.images",
    "read_attribute_file": "i2i.data.attributes",
}

if TYPE_CHECKING:  # what type checkers see; at run time names resolve lazily (below)
    from i2i.api import (
        create_discriminator as create_discriminator,
        create_gan_loss as create_gan_loss,
        create_generator as create_generator,
        create_loss as create_loss,
        create_method as create_method,
        default_config as default_config,
        get_method as get_method,
        list_components as list_components,
        list_methods as list_methods,
        load_config as load_config,
        run as run,
    )
    from i2i.config.from_reference import (
        JUNYANZ_OPTIONS as JUNYANZ_OPTIONS,
        ReferenceOption as ReferenceOption,
        ReferenceSpec as ReferenceSpec,
        convert_reference as convert_reference,
    )
    from i2i.config.run import RunConfig as RunConfig
    from i2i.config.validation import (
        at_least as at_least,
        between as between,
        component_field as component_field,
        distinct as distinct,
        matches as matches,
        more_than as more_than,
        one_of as one_of,
    )
    from i2i.data.attributes import read_attribute_file as read_attribute_file
    from i2i.data.batch import Batch as Batch
    from i2i.data.config import DataConfig as DataConfig, DataSource as DataSource
    from i2i.errors import (
        CheckpointError as CheckpointError,
        ConfigError as ConfigError,
        DataError as DataError,
        I2IError as I2IError,
        PluginError as PluginError,
        UsageError as UsageError,
    )
    from i2i.eval.capabilities import (
        Direction as Direction,
        EvalCapabilities as EvalCapabilities,
        EvalContext as EvalContext,
        EvalMetric as EvalMetric,
    )
    from i2i.inference import Translator as Translator, load_checkpoint as load_checkpoint
    from i2i.inference.sizes import prepare_size as prepare_size
    from i2i.inference.spec import (
        ExportInput as ExportInput,
        TranslateOption as TranslateOption,
        image_input as image_input,
        latent_codes as latent_codes,
    )
    from i2i.inference.weights_import import (
        check_state_dict_fits as check_state_dict_fits,
        convert_generator_state_dict as convert_generator_state_dict,
        convert_image_generator as convert_image_generator,
        drop_norm_statistics as drop_norm_statistics,
        image_generator_config as image_generator_config,
        image_generator_family as image_generator_family,
        import_reference_checkpoint as import_reference_checkpoint,
        load_reference_file as load_reference_file,
    )
    from i2i.io.checkpoint import Checkpoint as Checkpoint
    from i2i.io.images import read_image as read_image
    from i2i.method import (
        LABELLED as LABELLED,
        PAIRED as PAIRED,
        UNPAIRED as UNPAIRED,
        DataInfo as DataInfo,
        LabelSource as LabelSource,
        Method as Method,
        StepContext as StepContext,
        set_requires_grad as set_requires_grad,
    )
    from i2i.nets import init_weights as init_weights
    from i2i.nets.base import full_precision as full_precision
    from i2i.nets.concat import cat_channels as cat_channels
    from i2i.nets.init import INIT_TYPES as INIT_TYPES, maybe_init as maybe_init
    from i2i.nets.losses import (
        GAN_MODES as GAN_MODES,
        GANLoss as GANLoss,
        gan_loss as gan_loss,
        gradient_penalty as gradient_penalty,
    )
    from i2i.nets.norm import (
        NORMS as NORMS,
        conv_bias as conv_bias,
        get_norm_layer as get_norm_layer,
        instance_norm as instance_norm,
    )
    from i2i.nets.padding import ReflectionPad2d as ReflectionPad2d, ReplicationPad2d as ReplicationPad2d
    from i2i.nets.pool import ImagePool as ImagePool
    from i2i.nets.sizing import (
        check_patchgan_size as check_patchgan_size,
        fit_generator_to_size as fit_generator_to_size,
        fit_image_size as fit_image_size,
        patchgan_sides as patchgan_sides,
        unet_for_size as unet_for_size,
    )
    from i2i.optim import adam as adam
    from i2i.plugins.hookspecs import hookimpl as hookimpl, hookspec as hookspec
    from i2i.plugins.host import PluginHost as PluginHost, get_host as get_host
    from i2i.plugins.registry import (
        CommandSpec as CommandSpec,
        ComponentSpec as ComponentSpec,
        ConvertedGenerator as ConvertedGenerator,
        DatasetSpec as DatasetSpec,
        DiscriminatorSpec as DiscriminatorSpec,
        GeneratorSpec as GeneratorSpec,
        ImporterSpec as ImporterSpec,
        ImportPlan as ImportPlan,
        ImportRequest as ImportRequest,
        LoggerSpec as LoggerSpec,
        LossSpec as LossSpec,
        MethodSpec as MethodSpec,
    )
    from i2i.train.config import TrackingConfig as TrackingConfig, TrainConfig as TrainConfig
    from i2i.train.tracking import RunLogger as RunLogger, TrackedRun as TrackedRun
    from i2i.train.trainer import Trainer as Trainer
    from i2i.train.view import RunView as RunView

__all__ = sorted(_EXPORTS) + ["__version__"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
