"""Tiny notebooks for the tests of the papermill runner and of progress (a kernel starts in ~2 s)."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def tiny_notebook(path, *sources: str, parameters: str | None = None, title: str | None = None) -> Path:
    """Write a python3 notebook to ``path``: an optional ``# title`` cell, a cell tagged ``parameters``
    (when given), then one code cell per source."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [new_markdown_cell(f"# {title}")] if title else []
    if parameters is not None:
        params = new_code_cell(parameters)
        params.metadata["tags"] = ["parameters"]
        cells.append(params)
    nb.cells = cells + [new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return Path(path)


def stream_texts(nb) -> list[str]:
    """The stream text of every output of every code cell of ``nb`` (a notebook node), in order."""
    return [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
