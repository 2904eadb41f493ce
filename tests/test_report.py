"""The papermill runner: parameter checks, injected parameters, clean metadata, HTML."""
import json

import nbformat
import pytest
import tiny_notebooks
from nbformat.v4 import new_code_cell, new_notebook

from quake_lib.report import execute as report
from quake_lib.report import preflight, site


@pytest.fixture
def tiny_notebook(tmp_path):
    return tiny_notebooks.tiny_notebook(tmp_path / "01_tiny.ipynb", "print(dataset, profile, seed * 2)",
                                        parameters='dataset = "synthetic"\nprofile = "default"\nseed = 0',
                                        title="Tiny")


def outputs(path):
    nb = nbformat.read(path, as_version=4)
    return nb, "".join(tiny_notebooks.stream_texts(nb))


def test_default_run_has_no_injected_cell_and_no_papermill_metadata(tiny_notebook, tmp_path):
    dst = tmp_path / "out" / tiny_notebook.name
    report.execute(tiny_notebook, dst, {"dataset": "synthetic", "profile": "default", "seed": 0})
    site.build(dst.parent, tmp_path / "html")
    nb, text = outputs(dst)
    assert text == "synthetic default 0\n"
    raw = json.loads(dst.read_text())
    assert "papermill" not in raw["metadata"]
    assert all("papermill" not in c["metadata"] and "execution" not in c["metadata"] for c in raw["cells"])
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert "synthetic default 0" in (tmp_path / "html" / "01_tiny.html").read_text()


def test_changed_parameters_are_injected_once(tiny_notebook):
    report.execute(tiny_notebook, tiny_notebook, {"dataset": "lanl", "seed": 3})
    report.execute(tiny_notebook, tiny_notebook, {"dataset": "lanl", "seed": 4})  # rerun over itself
    nb, text = outputs(tiny_notebook)
    assert text == "lanl default 8\n"
    assert sum("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1


def test_misspelled_parameter_fails_before_running(tiny_notebook, tmp_path):
    with pytest.raises(ValueError, match=r"01_tiny.ipynb has no parameter 'datset'; its parameters are: "
                                         r"dataset, profile, seed"):
        report.execute(tiny_notebook, tmp_path / "x.ipynb", {"datset": "lanl"})
    assert not (tmp_path / "x.ipynb").exists()


def test_failing_notebook_leaves_no_output(tiny_notebook, tmp_path):
    nb = nbformat.read(tiny_notebook, as_version=4)
    nb.cells.append(new_code_cell("raise RuntimeError('boom')"))
    nbformat.write(nb, tiny_notebook)
    dst = tmp_path / "out.ipynb"
    with pytest.raises(Exception, match="boom"):
        report.execute(tiny_notebook, dst, {})
    assert not dst.exists() and not list(tmp_path.glob(".*running*"))


def test_notebook_without_parameters_cell_is_refused(tmp_path):
    nb = new_notebook()
    nb.cells = [new_code_cell("x = 1")]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        preflight.check_parameters(path, {})


def test_a_chapter_on_absent_real_material_is_skipped_saying_why(tiny_notebook, tmp_path, monkeypatch):
    nb = nbformat.read(tiny_notebook, as_version=4)
    nb.metadata["quake"] = {"needs_shared": ["segment_stats.csv"]}
    nbformat.write(nb, tiny_notebook)
    monkeypatch.setenv("QUAKE_SHARED_DIR", str(tmp_path / "nowhere"))
    why = preflight.missing_material(tiny_notebook)
    assert "segment_stats.csv" in why and str(tmp_path / "nowhere") in why and "QUAKE_SHARED_DIR" in why
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / "segment_stats.csv").write_text("segment\n")
    assert preflight.missing_material(tiny_notebook) is None


def test_chapter_7_declares_the_real_material_it_reads():
    from quake_lib import paths
    needs = nbformat.read(paths.NOTEBOOKS_DIR / "07_real_data.ipynb", as_version=4).metadata["quake"]["needs_shared"]
    assert set(needs) == {"segment_stats.csv", "lab_p4581_ae_variance.csv", "lab_p5198_ae_variance.csv"}


def test_report_skips_chapter_7_without_the_real_material_and_keeps_it(tmp_path, monkeypatch):
    from quake_lib import paths
    monkeypatch.setenv("QUAKE_SHARED_DIR", str(tmp_path / "nowhere"))
    chapter = paths.NOTEBOOKS_DIR / "07_real_data.ipynb"
    before = chapter.read_bytes()
    lines = []
    times = report.execute_all("synthetic", "default", 0, only=["07"], output_dir=tmp_path, html_dir=None,
                               log=lambda *a, **k: lines.append(" ".join(map(str, a))))
    assert times == {} and not (tmp_path / chapter.name).exists() and chapter.read_bytes() == before
    assert lines[0].startswith("skipping 07_real_data.ipynb: the real material it reads is not at")
