"""``benchmarks/instructions.py``: every scenario runs (valgrind itself is not needed here)."""

from __future__ import annotations

import pytest

from benchmarks.instructions import OPERATIONS, main, scenario


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_each_scenario_runs_its_operations(name: str) -> None:
    run = scenario(name)
    run(0)
    run(2)


def test_an_unknown_scenario_is_refused() -> None:
    with pytest.raises(KeyError):
        scenario("teleport")


def test_without_valgrind_the_command_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("shutil.which", lambda _: None)
    assert main(["call"]) == 2
    assert "valgrind" in capsys.readouterr().err
