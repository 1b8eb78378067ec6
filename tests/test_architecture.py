"""The import rules of docs/architecture.md: who may import whom inside the core.

Module-level and function-level imports both count, except where a rule says "module level";
``if TYPE_CHECKING:`` blocks count as well (type checkers follow them, readers too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "i2i"


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module_level_only: bool = False) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every i2i import of ``path`` (``from i2i import api``
    counts as ``i2i.api``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "i2i"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "i2i":
                continue
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


MODULES = {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _offenders(importers, imported, module_level_only: bool = False) -> list[str]:
    bad = []
    for name, path in MODULES.items():
        if not importers(name):
            continue
        for line, target in _imports(path, module_level_only):
            if target in MODULES and imported(target):
                bad.append(f"{path.relative_to(CORE.parent)}:{line} imports {target}")
    return bad


def _within(*packages: str):
    return lambda name: any(name == p or name.startswith(p + ".") for p in packages)


def test_the_module_table_is_real() -> None:
    # the rules below would pass vacuously if the tree moved
    for name in ("i2i.cli.main", "i2i.api", "i2i.train.trainer", "i2i.eval.runner", "i2i.inference.translator"):
        assert name in MODULES, name


@pytest.mark.parametrize(
    ("rule", "importers", "imported", "module_level_only"),
    [
        (
            "only the CLI imports the CLI",
            lambda n: not _within("i2i.cli", "i2i.__main__")(n),
            _within("i2i.cli"),
            False,
        ),
        (
            "the core never imports the conformance suite",
            lambda n: not _within("i2i.testing")(n),
            _within("i2i.testing"),
            False,
        ),
        (
            "only the CLI and the suite import i2i.api at module level",
            lambda n: not _within("i2i.cli", "i2i.testing", "i2i.api")(n),
            _within("i2i.api"),
            True,
        ),
        (
            "only i2i.api and the CLI import the trainer (and the public API names it)",
            lambda n: n != "i2i" and not _within("i2i.cli", "i2i.api", "i2i.train.trainer")(n),
            _within("i2i.train.trainer"),
            False,
        ),
        ("inference never imports eval", _within("i2i.inference"), _within("i2i.eval"), False),
        (
            "the ground floor imports no engine",
            _within("i2i.io", "i2i.data", "i2i.nets", "i2i.plugins", "i2i.config", "i2i.method", "i2i.errors"),
            _within("i2i.api", "i2i.cli", "i2i.train.trainer", "i2i.eval.runner", "i2i.inference.translator"),
            False,
        ),
        ("errors and _lazy import nothing of i2i", _within("i2i.errors", "i2i._lazy"), lambda n: True, False),
    ],
    ids=lambda v: v.replace(" ", "-") if isinstance(v, str) else "-",
)
def test_import_rule(rule: str, importers, imported, module_level_only: bool) -> None:
    bad = _offenders(importers, imported, module_level_only)
    assert not bad, f"{rule} (docs/architecture.md):\n" + "\n".join(bad)


def test_every_function_local_import_says_why() -> None:
    """A function-local import is the exception (docs/architecture.md): its line, or the line
    above, says why it is not at module level (a cycle, start-up time, an optional package)."""
    silent = []
    for path in MODULES.values():
        lines = path.read_text(encoding="utf-8").splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    own = lines[node.lineno - 1 : node.end_lineno]
                    above = lines[node.lineno - 2].strip()
                    if not any("#" in line for line in own) and not above.startswith("#"):
                        silent.append(f"{path.relative_to(CORE.parent)}:{node.lineno}: {own[0].strip()}")
    assert not silent, "function-local imports that do not say why:\n" + "\n".join(silent)
