"""Test kits plugin authors inherit: component and method conformance checks.

``i2i.testing.components`` checks generators and discriminators; the method suite is
re-exported here (``from i2i.testing import MethodConformance``), see :mod:`i2i.testing.methods`.
"""

from i2i.testing.methods import *  # noqa: F403 - the method suite is this package's API
from i2i.testing.methods import __all__  # noqa: F401
