"""The public API: lazy at run time, fully visible to type checkers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import i2i

INIT = Path(i2i.__file__)


def _type_checking_imports() -> dict[str, str]:
    tree = ast.parse(INIT.read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module
                for alias in stmt.names:
                    assert alias.asname == alias.name, f"re-export {alias.name} as itself (PEP 484)"
                    found[alias.name] = stmt.module
    return found


def test_every_export_is_visible_to_type_checkers():
    """Each name in ``_EXPORTS`` needs ``from MODULE import NAME as NAME`` under
    ``if TYPE_CHECKING:`` in ``i2i/__init__.py`` (else mypy and IDEs see ``Any``)."""
    assert _type_checking_imports() == i2i._EXPORTS


def test_every_export_resolves_to_its_module():
    for name, module in i2i._EXPORTS.items():
        value = getattr(i2i, name)
        assert value is getattr(sys.modules[module], name)


def test_import_stays_lazy_and_py_typed_ships():
    code = "import sys, i2i; assert 'torch' not in sys.modules, 'import i2i imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (INIT.parent / "py.typed").is_file()
