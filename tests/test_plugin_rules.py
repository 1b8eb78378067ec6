"""Plugins use only i2i's public API and never each other (an AST scan of every file).

So any built-in method could be lifted into its own distribution unchanged, and a third-party
plugin written against the documented API keeps working: plugin code may ``import i2i`` and
``from i2i import ...``; test files may also use ``i2i.testing``; no plugin imports another
plugin's package, statically or through ``importlib.import_module("...")``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Each plugin package (its import name) and the folder its code lives in.
PLUGINS: dict[str, Path] = {p.name: p for p in sorted((ROOT / "plugins").iterdir()) if (p / "__init__.py").is_file()}
PLUGINS["i2i_cut"] = ROOT / "examples" / "third_party_plugin"
#: Example scripts that compose methods from the public API count as plugin code too.
EXAMPLE_SCRIPTS = {"compose": ROOT / "examples" / "compose.py"}

ALLOWED_IN_TESTS = ("i2i.testing",)


def _is_test_file(path: Path) -> bool:
    return "tests" in path.parts or path.name.startswith("test_") or path.name == "conftest.py"


def imported_modules(source: str, filename: str = "<plugin>") -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every absolute import (``from i2i import x`` as ``i2i.x``, so a
    submodule imported that way is seen), and string arguments of ``importlib.import_module`` /
    ``__import__``."""
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: inside the plugin's own package
                continue
            module = node.module or ""
            if module == "i2i":  # `from i2i import nets` imports the submodule i2i.nets
                for alias in node.names:
                    yield node.lineno, f"i2i.{alias.name}"
            else:
                yield node.lineno, module
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield node.lineno, arg.value


def _public_names() -> set[str]:
    import i2i

    return set(i2i.__all__)


def violations(source: str, own_package: str, *, is_test: bool, filename: str = "<plugin>") -> list[str]:
    """Why ``source`` (a file of plugin ``own_package``) breaks the rules; empty when it does not."""
    public = _public_names()
    other_plugins = (set(PLUGINS) | set(EXAMPLE_SCRIPTS)) - {own_package}
    found: list[str] = []
    for line, module in imported_modules(source, filename):
        parts = module.split(".")
        top = parts[0]
        if top == "i2i" and len(parts) > 1:
            if is_test and any(module == a or module.startswith(a + ".") for a in ALLOWED_IN_TESTS):
                continue
            if len(parts) == 2 and parts[1] in public:  # `from i2i import Method`
                continue
            if module in ALLOWED_IN_TESTS or any(module.startswith(a + ".") for a in ALLOWED_IN_TESTS):
                found.append(f"{filename}:{line}: {module} is for tests only")
            else:
                found.append(
                    f"{filename}:{line}: imports {module}; use the public API (import i2i / from i2i import ...)"
                )
        elif top in other_plugins:
            found.append(f"{filename}:{line}: imports another plugin ({top})")
    return found


def _plugin_files() -> Iterator[tuple[str, Path]]:
    for package, folder in PLUGINS.items():
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts and "build" not in path.relative_to(folder).parts:
                yield package, path
    for name, path in EXAMPLE_SCRIPTS.items():
        yield name, path


PLUGIN_FILES = list(_plugin_files())


def test_the_scan_sees_every_plugin() -> None:
    assert {"i2i_pix2pix", "i2i_cyclegan", "i2i_augcyclegan", "i2i_stargan", "i2i_cut"} <= set(PLUGINS)
    scanned = {package for package, _ in PLUGIN_FILES}
    assert scanned == set(PLUGINS) | set(EXAMPLE_SCRIPTS)


@pytest.mark.parametrize(("package", "path"), PLUGIN_FILES, ids=[str(p.relative_to(ROOT)) for _, p in PLUGIN_FILES])
def test_plugin_file_uses_only_the_public_api(package: str, path: Path) -> None:
    found = violations(
        path.read_text(encoding="utf-8"), package, is_test=_is_test_file(path), filename=str(path.relative_to(ROOT))
    )
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("source", "is_test", "message"),
    [
        ("from i2i.nets.resnet import ResnetGenerator", False, "imports i2i.nets.resnet"),
        ("import i2i.nets.losses", False, "imports i2i.nets.losses"),
        ("from i2i import nets", False, "imports i2i.nets"),
        ("from i2i.testing import MethodConformance", False, "i2i.testing is for tests only"),
        ("from i2i_cyclegan.method import CycleGAN", False, "another plugin (i2i_cyclegan)"),
        ("import i2i_stargan", True, "another plugin (i2i_stargan)"),
        ("import importlib\nm = importlib.import_module('i2i.train.trainer')", False, "imports i2i.train.trainer"),
        ("__import__('i2i_pix2pix.plugin')", False, "another plugin (i2i_pix2pix)"),
    ],
)
def test_the_scan_catches_violations(source: str, is_test: bool, message: str) -> None:
    found = violations(source, "i2i_cut", is_test=is_test)
    assert len(found) == 1 and message in found[0], found


@pytest.mark.parametrize(
    ("source", "is_test"),
    [
        ("import i2i\nfrom i2i import Method, MethodSpec, hookimpl, create_generator", False),
        ("from i2i_cut.config import CUTConfig\nfrom .patchnce import encode", False),
        ("import torch, attrs\nfrom torch import nn", False),
        ("from i2i.testing import MethodConformance, dummy_batch\nimport i2i.testing.methods", True),
    ],
)
def test_the_scan_allows_the_public_api(source: str, is_test: bool) -> None:
    assert violations(source, "i2i_cut", is_test=is_test) == []
