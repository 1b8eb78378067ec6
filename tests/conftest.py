"""Shared test setup: a fresh plugin host per test, a private cache, the dummy method on hand."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# Keep the 2-core CI machine responsive and results stable; tests use tiny nets anyway.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Demo data and other caches go to a per-session folder, never the user's cache."""
    if "I2I_CACHE_DIR" not in os.environ:
        os.environ["I2I_CACHE_DIR"] = str(tmp_path_factory.mktemp("i2i-cache"))


@pytest.fixture(autouse=True)
def _fresh_default_host():
    """Each test starts with no process-wide plugin host (it is rebuilt on first use)."""
    from i2i.plugins.host import set_host

    set_host(None)
    yield
    set_host(None)


@pytest.fixture
def dummy_host():
    """A host with the built-ins plus the tiny ``dummy`` method, installed as the default host."""
    import dummy_plugin

    from i2i.plugins.host import PluginHost, set_host

    host = PluginHost(autoload=False, plugins=[("dummy", dummy_plugin)])
    set_host(host)
    return host


@pytest.fixture
def subprocess_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running ``i2i`` in a subprocess with the dummy method available."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH", "")]))
    env["I2I_PLUGINS"] = "dummy_plugin"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
