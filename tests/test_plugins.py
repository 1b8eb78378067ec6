"""The plugin host: built-ins through the hooks, entry points, blocking, failures, duplicates."""

from __future__ import annotations

import types

import pytest

import i2i
from i2i import MethodSpec, hookimpl
from i2i.errors import PluginError
from i2i.plugins.host import PluginHost


def _method_plugin(name: str, method_name: str) -> types.ModuleType:
    import dummy_plugin

    module = types.ModuleType(name)

    @hookimpl
    def i2i_register_methods():
        yield MethodSpec(
            name=method_name, config=dummy_plugin.DummyConfig, factory=dummy_plugin.Dummy, data_kind="paired"
        )

    module.i2i_register_methods = i2i_register_methods
    return module


def test_builtins_register_through_hooks_without_entry_points():
    host = PluginHost(autoload=False)
    assert "i2i.components" in host.plugin_names()
    assert host.registry.names("method") == []  # methods come only from plugins
    assert "resnet_9blocks" in host.registry.names("generator")
    assert host.registry.get("generator", "resnet_9blocks").plugin.startswith("i2i.components")


def test_entry_points_load_the_builtin_methods():
    host = PluginHost()
    assert {"pix2pix", "cyclegan", "stargan", "augcyclegan"} <= set(host.registry.names("method"))
    info = host.infos["cyclegan"]
    assert info.distribution == "i2i-translate" and info.version == i2i.__version__


def test_autoload_env_switch_keeps_the_builtin_methods(monkeypatch):
    monkeypatch.setenv("I2I_DISABLE_PLUGIN_AUTOLOAD", "1")
    host = PluginHost()
    assert {"pix2pix", "cyclegan", "stargan", "augcyclegan"} <= set(host.registry.names("method"))
    assert all(host.infos[n].distribution == "i2i-translate" for n in host.plugin_names())
    assert "cut" not in host.registry.names("method")  # the example plugin is third-party
    with pytest.raises(
        i2i.UsageError, match="method 'cut' is not available: plugin 'cut' is not loaded: I2I_DISABLE_PLUGIN_AUTOLOAD"
    ):
        host.registry.get("method", "cut")


def test_disabled_plugins_are_named_in_the_error(monkeypatch):
    with pytest.raises(
        i2i.UsageError, match="method 'cyclegan' is not available: plugin 'cyclegan' is disabled by --disable-plugin"
    ):
        PluginHost(disabled=["cyclegan"]).registry.get("method", "cyclegan")
    monkeypatch.setenv("I2I_DISABLED_PLUGINS", "stargan")
    with pytest.raises(i2i.UsageError, match="disabled by I2I_DISABLED_PLUGINS"):
        PluginHost().registry.get("method", "stargan")


def test_i2i_plugins_naming_a_loaded_plugin_is_harmless(monkeypatch):
    monkeypatch.setenv("I2I_PLUGINS", "i2i_cyclegan.plugin")
    host = PluginHost()
    assert "cyclegan" in host.registry.names("method") and not host.failures


def test_blocking_by_argument_and_env(monkeypatch):
    assert "cyclegan" not in PluginHost(disabled=["cyclegan"]).registry.names("method")
    monkeypatch.setenv("I2I_DISABLED_PLUGINS", "pix2pix, stargan")
    names = PluginHost().registry.names("method")
    assert "pix2pix" not in names and "stargan" not in names and "cyclegan" in names


def test_duplicate_names_name_both_plugins():
    host = PluginHost(
        autoload=False, plugins=[("first", _method_plugin("m1", "same")), ("second", _method_plugin("m2", "same"))]
    )
    with pytest.raises(
        PluginError, match=r"method 'same' is registered twice: by plugin 'first .*' and by plugin 'second .*'"
    ):
        _ = host.registry


def test_broken_plugins_are_reported_and_the_rest_work(monkeypatch):
    broken = types.ModuleType("broken")

    @hookimpl
    def i2i_register_methods():
        raise RuntimeError("boom")

    broken.i2i_register_methods = i2i_register_methods
    monkeypatch.setenv("I2I_PLUGINS", "no_such_module_for_i2i")
    with pytest.warns(UserWarning) as caught:
        host = PluginHost(autoload=False, plugins=[("broken", broken), ("good", _method_plugin("g", "good_method"))])
        names = host.registry.names("method")
    assert names == ["good_method"]
    failed = {f.name: f.error for f in host.failures}
    assert "boom" in failed["broken"] and "failed to import" in failed["no_such_module_for_i2i"]
    assert any("no_such_module_for_i2i" in str(w.message) for w in caught)


def test_registry_patterns_and_suggestions():
    host = PluginHost(autoload=False)
    assert host.registry.names("generator", "unet*") == sorted(
        n for n in host.registry.names("generator") if n.startswith("unet")
    )
    with pytest.raises(i2i.UsageError, match="did you mean 'resnet_9blocks'"):
        host.registry.get("generator", "resnet_9block")


def test_registration_is_lazy_and_import_loads_nothing():
    import subprocess
    import sys

    code = "import sys, i2i; print(any(m.startswith('i2i_') for m in sys.modules), 'i2i.plugins.host' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
