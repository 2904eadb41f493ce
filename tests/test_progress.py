"""Progress: shown to the person waiting (stderr, a status file the report runner follows), never in
a notebook's outputs; off with --no-progress / QUAKE_NO_PROGRESS."""
import nbformat
import pytest
from tiny_notebooks import stream_texts, tiny_notebook

from quake_lib import cli, progress
from quake_lib.report import execute as report


@pytest.fixture
def status_file(tmp_path, monkeypatch):
    path = tmp_path / "status"
    monkeypatch.delenv(progress.OFF_ENV, raising=False)
    monkeypatch.setenv(progress.FILE_ENV, str(path))
    return path


def test_mode_follows_the_environment(monkeypatch):
    monkeypatch.delenv(progress.FILE_ENV, raising=False)
    monkeypatch.setenv(progress.OFF_ENV, "1")
    assert progress.mode() == "off"
    monkeypatch.setenv(progress.OFF_ENV, "0")
    assert progress.mode() == "bar"
    monkeypatch.setenv(progress.FILE_ENV, "/nonexistent/status")
    assert progress.mode() == "file"
    monkeypatch.setenv(progress.OFF_ENV, "1")   # off wins over everything
    assert progress.mode() == "off"
    progress.status("nothing is written anywhere")


def test_file_mode_bar_writes_status_lines_and_the_follower_shows_the_last(status_file):
    class Pbar:
        postfix = None

        def set_postfix_str(self, s):
            self.postfix = s

    assert list(progress.bar(range(3), desc="features", unit="window")) == [0, 1, 2]
    progress.status("wave_cnn fold 2/5 epoch 3/8")
    lines = status_file.read_text().splitlines()
    assert lines[0].startswith("features 1/3 window") and "features 3/3 windows" in lines
    pbar = Pbar()
    follower = progress.Follower(status_file, pbar)
    assert follower.poll() == "wave_cnn fold 2/5 epoch 3/8" == pbar.postfix
    with open(status_file, "a") as f:
        f.write("half a li")                       # an unfinished line is not shown yet
    assert follower.poll() == "wave_cnn fold 2/5 epoch 3/8"
    with open(status_file, "a") as f:
        f.write("ne\n")
    assert follower.poll() == "half a line"


def test_bar_mode_writes_to_stderr_and_disable_silences_it(monkeypatch, capsys):
    monkeypatch.delenv(progress.OFF_ENV, raising=False)
    monkeypatch.delenv(progress.FILE_ENV, raising=False)
    list(progress.bar(range(5), desc="segments"))
    out, err = capsys.readouterr()
    assert out == "" and "segments" in err and "5/5" in err
    list(progress.bar(range(5), desc="segments", disable=True))
    assert capsys.readouterr() == ("", "")


@pytest.fixture
def progress_notebook(tmp_path):
    return tiny_notebook(tmp_path / "01_progress.ipynb",
                         "from quake_lib import progress\n"
                         "for _ in progress.bar(range(3), desc='features', unit='window'):\n"
                         "    pass\n"
                         "progress.status('wave_cnn fold 2/5 epoch 3/8')\n"
                         "print('result', seed)", parameters="seed = 0")


def executed_texts(src, dst, show_progress: bool) -> list[str]:
    """Run ``src`` with the report runner into ``dst``; the stream texts of its code cells."""
    report.execute(src, dst, {}, show_progress=show_progress)
    return stream_texts(nbformat.read(dst, as_version=4))


def test_report_shows_kernel_progress_on_stderr_never_in_the_notebook(progress_notebook, tmp_path, capfd,
                                                                      monkeypatch):
    monkeypatch.delenv(progress.OFF_ENV, raising=False)
    texts = executed_texts(progress_notebook, tmp_path / "out.ipynb", show_progress=True)
    out, err = capfd.readouterr()
    assert texts == ["result 0\n"]                              # the notebook holds the result only
    assert "wave_cnn fold 2/5 epoch 3/8" in err and "2/2" in err   # status beside the cell counter
    assert "without encryption" not in out + err                  # the kernel's TCP warning is gone
    assert "KeyboardInterrupt" not in out + err                   # nor the interrupt before its shutdown
    assert progress.FILE_ENV not in __import__("os").environ       # the runner restored the environment


def test_report_without_progress_is_silent_in_kernel_and_terminal(progress_notebook, tmp_path, capfd,
                                                                  monkeypatch):
    monkeypatch.delenv(progress.OFF_ENV, raising=False)
    texts = executed_texts(progress_notebook, tmp_path / "out.ipynb", show_progress=False)
    _, err = capfd.readouterr()
    assert texts == ["result 0\n"] and "features" not in err and "fold" not in err


def test_cli_version_and_examples(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("quake_lib ") and "torch " in out and "numpy " in out
    parser = cli.build_parser()
    assert "examples:" in parser.format_help() and "``" not in parser.format_help()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert f"python -m quake_lib {name}" in command.format_help(), name


def test_cli_no_progress_reaches_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(progress.OFF_ENV, raising=False)
    monkeypatch.setenv("QUAKE_DATA_DIR", str(tmp_path))
    rc = cli.main(["train", "--approach", "constant", "--dataset", "no_such_dataset", "--no-progress"])
    assert rc == 2 and progress.mode() == "off"


def test_training_reports_fold_and_epoch(rec, windows, status_file, capsys):
    from tiny_data import ONE_EPOCH, TINY

    from quake_lib import evaluation as ev
    from quake_lib.train import cross_validate
    folds = ev.make_folds(rec, n_folds=2, windows=windows)
    cross_validate(rec, TINY, "regression", folds, seed=0, eval_windows=windows, save=False, verbose=False,
                   **{**ONE_EPOCH, "epochs": 2})
    lines = status_file.read_text().splitlines()
    assert [line for line in lines if "epoch" in line] == [
        f"wave_cnn_regression fold {k}/2 epoch {e}/2" for k in (1, 2) for e in (1, 2)]
    assert capsys.readouterr() == ("", "")     # file mode: nothing on the process's own streams


def test_in_jupyter_a_progress_bar_is_a_widget(tmp_path, monkeypatch):
    """What a JupyterLab user gets (a kernel started without the report runner's environment): the bar
    is an ipywidgets progress bar, not text."""
    from nbclient import NotebookClient
    monkeypatch.delenv(progress.OFF_ENV, raising=False)
    monkeypatch.delenv(progress.FILE_ENV, raising=False)
    nb = nbformat.read(tiny_notebook(tmp_path / "widget.ipynb", "from quake_lib import progress\n"
                                     "for _ in progress.bar(range(3), desc='fold 1/5'):\n    pass"), as_version=4)
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    kinds = [key for o in nb.cells[0].outputs for key in o.get("data", {})]
    assert "application/vnd.jupyter.widget-view+json" in kinds, nb.cells[0].outputs
