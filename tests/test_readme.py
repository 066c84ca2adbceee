"""The README's Python examples run as written (each block in a fresh namespace), and it names
what ``deploy_system`` deploys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from icto import IC
from icto.system import deploy_system

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_a_readme_example_runs(number: int) -> None:
    exec(compile(BLOCKS[number], f"README.md block {number}", "exec"), {})


def test_the_readme_names_every_factory_deploy_system_deploys() -> None:
    text = README.read_text(encoding="utf-8")
    system = deploy_system(IC())
    assert f"backend, {len(system.factories)} factories" in text
    for factory in system.factories.values():
        code = system.ic.code_of(factory)
        assert code is not None
        package = ".".join(code.__module__.split(".")[:2])
        assert f"(`{package}`" in text, package
