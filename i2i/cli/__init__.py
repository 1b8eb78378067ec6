"""The ``i2i`` command: one module per command, each a thin click layer over the library API.

:mod:`i2i.cli.main` holds the group and the small commands; the larger ones (translate, eval,
export, import-weights, config from-reference) have their own modules.
"""

from i2i.cli.main import cli as cli, main as main
