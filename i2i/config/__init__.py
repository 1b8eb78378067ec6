"""Run configs: the typed config classes and TOML I/O (:mod:`~i2i.config.run`), the value rules
(:mod:`~i2i.config.validation`), the generated reference (:mod:`~i2i.config.docs`) and the
conversion of the reference code's options (:mod:`~i2i.config.reference_names`,
:mod:`~i2i.config.from_reference`).

The package imports nothing itself, so the config classes of every layer (data, train, methods)
can use the validation rules without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from i2i._lazy import lazy_exports

# ``from i2i.config import RunConfig`` keeps working (it did before the package existed); the
# names resolve on first use, so importing a submodule (validation) loads no config class.
_RUN_NAMES = (
    "RunConfig",
    "DataConfig",
    "TrainConfig",
    "converter",
    "structure",
    "unstructure",
    "parse_override",
    "parse_overrides",
    "nest",
    "merge",
    "read_toml",
    "resolve_config",
    "check_run_config",
    "structure_method_config",
    "to_dict",
    "to_toml",
    "flatten",
)
__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(_RUN_NAMES, "i2i.config.run"), globals())

if TYPE_CHECKING:
    from i2i.config.run import (
        DataConfig as DataConfig,
        RunConfig as RunConfig,
        TrainConfig as TrainConfig,
        check_run_config as check_run_config,
        converter as converter,
        flatten as flatten,
        merge as merge,
        nest as nest,
        parse_override as parse_override,
        parse_overrides as parse_overrides,
        read_toml as read_toml,
        resolve_config as resolve_config,
        structure as structure,
        structure_method_config as structure_method_config,
        to_dict as to_dict,
        to_toml as to_toml,
        unstructure as unstructure,
    )
