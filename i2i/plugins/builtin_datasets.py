"""The built-in folder layouts as a plugin: ``i2i list datasets`` shows them, ``data.layout`` names them.

The host registers this module like any plugin. Each record's factory is the layout's
builder, ``factory(config=DataConfig, split="train"|"test", data_kind=None)``.
"""

from __future__ import annotations

from typing import Any, Iterator

from i2i.data.layouts import LAYOUTS
from i2i.plugins.hookspecs import hookimpl
from i2i.plugins.registry import DatasetSpec


@hookimpl
def i2i_register_datasets() -> Iterator[Any]:
    for layout in LAYOUTS.values():
        yield DatasetSpec(layout.name, layout.build, f"{layout.description}; serves {', '.join(layout.kinds)}")
