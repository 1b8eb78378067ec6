"""docs/plugins.md documents every hook, with a working example, and nothing that is not a hook.

Hook names come from the pluggy spec module itself (functions carrying the ``i2i`` hookspec
marker), so adding a hook without documenting it fails here.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from i2i.plugins import hookspecs

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
SPEC_ATTR = f"{hookspecs.PROJECT}_spec"  # what pluggy's HookspecMarker sets on a spec function


def hookspec_names() -> list[str]:
    return sorted(name for name, obj in vars(hookspecs).items() if inspect.isfunction(obj) and hasattr(obj, SPEC_ATTR))


def sections(text: str) -> dict[str, str]:
    """``### title`` -> the text up to the next heading of level 1-3 (``#`` lines inside fenced
    code are comments, not headings)."""
    out: dict[str, str] = {}
    title: str | None = None
    body: list[str] = []
    in_fence = False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            in_fence = not in_fence
        heading = None if in_fence else re.match(r"^(#{1,3}) (.+?)\s*$", line)
        if heading:
            if title is not None:
                out[title] = "".join(body)
            title = heading.group(2).strip("` ") if heading.group(1) == "###" else None
            body = []
        elif title is not None:
            body.append(line)
    if title is not None:
        out[title] = "".join(body)
    return out


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


DOC_TEXT = DOC.read_text(encoding="utf-8")
SECTIONS = sections(DOC_TEXT)


def test_the_spec_module_has_hooks() -> None:
    names = hookspec_names()
    assert "i2i_register_methods" in names and "i2i_train_end" in names and len(names) >= 10


@pytest.mark.parametrize("hook", hookspec_names())
def test_every_hook_has_a_section_with_an_example(hook: str) -> None:
    assert hook in SECTIONS, f"docs/plugins.md has no '### {hook}' section"
    blocks = python_blocks(SECTIONS[hook])
    assert blocks, f"the {hook} section has no ```python example"
    defs = [
        node
        for block in blocks
        for node in ast.walk(ast.parse(block))
        if isinstance(node, ast.FunctionDef) and node.name == hook
    ]
    assert defs, f"the {hook} example does not define {hook}()"
    example = defs[0]
    assert any(
        (isinstance(d, ast.Name) and d.id == "hookimpl") or (isinstance(d, ast.Attribute) and d.attr == "hookimpl")
        for d in example.decorator_list
    ), f"the {hook} example is not decorated with @hookimpl"
    # pluggy passes arguments by name: the example must use the spec's parameter names
    spec_params = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert [a.arg for a in example.args.args] == spec_params


def test_no_section_documents_a_hook_that_does_not_exist() -> None:
    documented = {title for title in SECTIONS if title.startswith("i2i_")}
    assert documented <= set(hookspec_names()), documented - set(hookspec_names())


def test_every_python_example_parses() -> None:
    blocks = python_blocks(DOC_TEXT)
    assert len(blocks) >= len(hookspec_names())
    for block in blocks:
        ast.parse(block)


def test_sections_are_found_by_heading_not_by_mention() -> None:
    text = "## Hooks\n### i2i_a\n```python\n# a comment\n@hookimpl\ndef i2i_a(): pass\n```\n### i2i_b\nsee i2i_a\n## Next\n"
    found = sections(text)
    assert set(found) == {"i2i_a", "i2i_b"}
    assert python_blocks(found["i2i_a"]) and not python_blocks(found["i2i_b"])
