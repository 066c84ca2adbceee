"""The tour notebook runs top to bottom in a fresh kernel and draws its pictures."""

from __future__ import annotations

from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

TOUR = Path(__file__).resolve().parent.parent / "examples" / "tour.ipynb"


def test_the_committed_tour_has_no_outputs() -> None:
    notebook = nbformat.read(TOUR, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_tour_runs_without_errors_and_shows_pictures_and_tables() -> None:
    notebook = nbformat.read(TOUR, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(TOUR.parent)}},
    )
    client.execute()
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert errors == []
    data = [o.get("data", {}) for o in outputs]
    assert any("image/png" in d for d in data), "no cell drew a picture"
    html = "".join(d.get("text/html", "") for d in data)
    for shown in ("Call tree", "deploy_token", "DeploymentInitiated", "PaymentRecord", "Ok", "Err"):
        assert shown in html, shown
