"""i2i-cut: Contrastive Unpaired Translation (Park et al. 2020) as an i2i plugin.

Installed, it adds the methods ``cut`` and ``fastcut`` to ``i2i`` (entry point group ``i2i``,
module :mod:`i2i_cut.plugin`): ``i2i run --method cut``. It imports nothing from i2i but the
public top-level API, like i2i's own built-in methods.
"""

from i2i_cut.config import CUTConfig
from i2i_cut.method import CUT
from i2i_cut.patchnce import PatchSampleMLP, patch_nce_loss

__all__ = ["CUT", "CUTConfig", "PatchSampleMLP", "patch_nce_loss"]
