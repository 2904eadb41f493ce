"""The committed notebooks (the rendered report on GitHub, and nbval's quick-profile copies) carry no
trace of the machine that ran them: no absolute path of a checkout, home, temporary or package folder."""
import json
import re
from pathlib import Path

import pytest

from quake_lib import paths

# Absolute paths of any machine: POSIX homes and system folders, macOS, Windows; where Python packages
# live; plus this machine's own checkout and home, whatever they are called.
MACHINE_PATH = re.compile(
    r"(?<![\w.])(?:/home/\w|/root/|/Users/\w|/tmp/|/var/folders/|/private/|/work/|/mnt/|/opt/conda|"
    r"[A-Za-z]:\\\\|site-packages|dist-packages)")


def notebooks() -> list[Path]:
    return sorted((paths.ROOT / "notebooks").glob("*.ipynb")) + sorted((paths.ROOT / "tests" / "notebooks")
                                                                      .glob("*.ipynb"))


def leaks(nb: dict) -> list[str]:
    """``cell N: ...the path...`` for every output or metadata string that holds an absolute path."""
    own = [str(paths.ROOT), str(Path.home())]
    found = []

    def scan(where, value):
        if isinstance(value, dict):
            for v in value.values():
                scan(where, v)
        elif isinstance(value, list):
            for v in value:
                scan(where, v)
        elif isinstance(value, str):
            m = MACHINE_PATH.search(value)
            hit = m.group(0) if m else next((o for o in own if o in value), None)
            if hit:
                i = value.find(hit)
                found.append(f"{where}: ...{value[max(i - 40, 0):i + 60]!r}...")

    scan("notebook metadata", nb.get("metadata", {}))
    for i, cell in enumerate(nb["cells"]):
        scan(f"cell {i} outputs", cell.get("outputs", []))
        scan(f"cell {i} metadata", cell.get("metadata", {}))
    return found


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: str(p.relative_to(paths.ROOT)))
def test_no_machine_path_in_committed_outputs(path):
    found = leaks(json.loads(path.read_text()))
    assert not found, f"{path.relative_to(paths.ROOT)} shows paths of the machine that ran it:\n" + "\n".join(found)


@pytest.mark.parametrize("text", [
    "/home/alice/quake/quake_lib/models/resnet.py:20: UserWarning: no weights",
    "Downloading to /root/.cache/torch/hub/checkpoints/resnet18.pth",
    "File /work/main/.venv/lib/python3.11/site-packages/torch/nn/modules/module.py",
    "saved to C:\\\\Users\\\\bob\\\\quake\\\\images",
    "written to /tmp/pytest-of-x/out.csv",
])
def test_the_scan_finds_machine_paths(text):
    nb = {"metadata": {}, "cells": [{"cell_type": "code", "metadata": {},
                                     "outputs": [{"output_type": "stream", "name": "stderr", "text": [text]}]}]}
    assert leaks(nb) and leaks(nb)[0].startswith("cell 0 outputs")


def test_relative_paths_and_urls_are_fine():
    nb = {"metadata": {}, "cells": [{"cell_type": "code", "metadata": {}, "outputs": [{
        "output_type": "stream", "name": "stdout",
        "text": ["figure: images/06_mae.png\n", "see https://www.kaggle.com/c/LANL-Earthquake-Prediction\n",
                 "data/synthetic/results/oof_lightgbm.csv\n"]}]}]}
    assert leaks(nb) == []
