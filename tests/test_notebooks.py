"""The report's notebooks: structure, parameters, committed outputs, and the nbval baselines.

nbval itself re-executes ``tests/notebooks/*.ipynb`` (the quick-profile copies) during ``make test``;
these tests guard what nbval cannot see: that those copies match the chapters in ``notebooks/``,
and that the committed chapters are clean reports.
"""
import json

import nbformat
import pytest

from quake_lib import paths
from quake_lib.report import execute as report
from quake_lib.report import preflight

CHAPTERS = report.numbered_notebooks()
REQUIRED_PARAMETERS = {"dataset", "profile", "seed"}


def code_sources(path):
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells
            if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


def test_chapters_exist_in_order():
    names = [p.name for p in CHAPTERS]
    assert names == ["01_eda.ipynb", "02_spectrograms.ipynb", "03_wave_cnn.ipynb",
                     "04_spectrogram_resnet.ipynb", "05_cpc.ipynb", "06_comparison.ipynb", "07_real_data.ipynb",
                     "08_scaling.ipynb"]
    assert len({n[:2] for n in names}) == len(names), "two chapters share a number"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_parameters_cell(path):
    assert REQUIRED_PARAMETERS <= set(preflight.declared_parameters(path))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_misspelled_parameter_fails_loudly(path):
    with pytest.raises(ValueError, match=r"has no parameter 'datset'; its parameters are: dataset"):
        preflight.check_parameters(path, {"datset": "lanl"})


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_quick_baseline_matches_the_chapter(path):
    baseline = paths.QUICK_BASELINE_DIR / path.name
    assert baseline.exists(), f"no nbval baseline for {path.name}: run `make quick-baseline`"
    assert code_sources(baseline) == code_sources(path), (
        f"{baseline} is out of date with {path}: run `make quick-baseline`")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_committed_chapter_is_a_clean_report(path):
    nb = nbformat.read(path, as_version=4)
    raw = json.loads(path.read_text())
    assert "papermill" not in raw["metadata"], "papermill metadata left in the notebook"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs for c in code if "plt.show()" in c.source), "a figure cell has no output"
    assert not any("image/svg+xml" in o.get("data", {}) for c in code for o in c.outputs)
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells), \
        "committed chapters hold the default run (no injected parameters)"
    for c in code:
        assert "papermill" not in c.metadata
        assert "class " not in c.source and "def " not in c.source, "notebooks call quake_lib, they define nothing"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "## Conclusion" in nb.cells[-1].source


def test_parse_assignments_never_evaluates():
    assert preflight.parse_assignments(["a=3", "b=0.5", "c=lanl", "d=__import__('os')"]) == {
        "a": 3, "b": 0.5, "c": "lanl", "d": "__import__('os')"}
    with pytest.raises(ValueError, match="expected name=value"):
        preflight.parse_assignments(["oops"])
