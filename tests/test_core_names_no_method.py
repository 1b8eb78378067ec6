"""The core (``i2i/``) never names a built-in method in code.

Everything method-specific comes from the method's plugin through documented hooks, so a
third-party method gets what a built-in gets. An AST scan of every core file looks at
identifiers (names, attributes, definitions, arguments, keywords, imports) and at key-like
string constants (no spaces: ``"stargan"``, ``"cyclegan-ref"``, ``"method.augcyclegan"``).
Docstrings, comments and prose strings may cite the papers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "i2i"


def _builtin_methods() -> list[str]:
    """The methods the plugins shipped with i2i register (a logger plugin is no method), and
    their package names (``plugins/i2i_stargan`` -> ``stargan``), so a new built-in is covered
    as soon as it is added."""
    from i2i.plugins.host import PluginHost

    shipped = {p.name.removeprefix("i2i_") for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file()}
    records = PluginHost().registry.records("method")
    methods = {r.name for r in records if "[i2i-translate" in r.plugin}
    packages = {r.plugin.split(" ")[0] for r in records if "[i2i-translate" in r.plugin}
    return sorted(methods | (shipped & packages))


BUILTIN_METHODS = _builtin_methods()
#: ``stargan`` also matches ``StarGAN`` and ``star_gan``.
PATTERN = re.compile(
    "|".join(r"_?".join(map(re.escape, name.split("_"))).replace("gan", "_?gan") for name in BUILTIN_METHODS), re.I
)
KEY_LIKE = re.compile(r"^[\w.:/-]+$")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.add(id(first.value))
    return found


def _texts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name):
            yield line, node.id
        elif isinstance(node, ast.Attribute):
            yield line, node.attr
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield line, node.name
        elif isinstance(node, ast.arg):
            yield line, node.arg
        elif isinstance(node, ast.keyword) and node.arg:
            yield line, node.arg
        elif isinstance(node, ast.alias):
            yield line, f"{node.name} {node.asname or ''}".strip()
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield line, node.module
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if KEY_LIKE.match(node.value):
                yield line, node.value


def method_names_in(source: str, filename: str = "<core>") -> list[str]:
    """``file:line: text`` for every identifier or key-like string naming a built-in method."""
    tree = ast.parse(source, filename)
    return [f"{filename}:{line}: {text}" for line, text in _texts(tree) if PATTERN.search(text)]


CORE_FILES = sorted(p for p in CORE.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_scan_knows_the_builtins() -> None:
    assert {"pix2pix", "cyclegan", "augcyclegan", "stargan"} <= set(BUILTIN_METHODS)
    assert len(CORE_FILES) > 40


@pytest.mark.parametrize("path", CORE_FILES, ids=[str(p.relative_to(ROOT)) for p in CORE_FILES])
def test_core_file_names_no_builtin_method(path: Path) -> None:
    found = method_names_in(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "the core names a built-in method; declare it from the plugin instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "from i2i.nets.stargan import StarGANGenerator",
        "FORMATS = ('cyclegan-ref',)",
        "if method == 'pix2pix': pass",
        "def _augcyclegan_kwargs(): pass",
        "x.exclusive_attributes or spec.get('star_gan')",
        "f(stargan_labels=1)",
    ],
)
def test_the_scan_catches_method_names(source: str) -> None:
    assert method_names_in(source)


@pytest.mark.parametrize(
    "source",
    [
        '"""Paired translation as pix2pix (Isola et al. 2017) does it."""',
        "def f():\n    '''Like CycleGAN's cycle loss.'''\n    return 1  # cyclegan, in a comment",
        "raise ValueError('an error message may mention the CycleGAN paper')",
        "name = 'generator'",
    ],
)
def test_prose_may_cite_the_papers(source: str) -> None:
    assert method_names_in(source) == []
