"""The report as a small static site: ``reports/index.html`` and one page per chapter, readable offline.

Every page is rendered by nbconvert's ``HTMLExporter`` through the ``quake_site`` template
(``templates/quake_site/``), which extends JupyterLab's ``lab`` template: the same look, plus a table of
contents (every chapter, the current one with its sections) and previous / next links, and with the
blocks that load require.js, MathJax, the widget manager and mermaid from CDNs emptied. Images stay
embedded (base64), links are relative, so the pages work from ``file://`` with the network off;
:func:`offline_problems` checks that, and :func:`build` refuses to write a page that would fetch anything.

The front page is a notebook assembled from the chapters and rendered the same way: the question (the
cell tagged ``site-question``), the results table (the output of the cell tagged ``site-results``), the
key figures (the image outputs of cells tagged ``site-figure``) and one line per chapter.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from ..atomic import write_text

NOTEBOOK_RE = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "quake_site"
INDEX = "index.html"
SITE_TITLE = "Predicting laboratory earthquakes"
_URL_SAFE = "-._~:,;=!$&*+@/%"  # kept as they are in a fragment (nbconvert already %-encodes quotes in ids)
QUESTION_TAG, RESULTS_TAG, FIGURE_TAG = "site-question", "site-results", "site-figure"

# what a browser would fetch from another host: src/href of a resource, CSS url() and @import, JS import()
_REMOTE = r"""\s*["']?\s*(?:https?:)?//[^\s"')>]*"""
_NETWORK_PATTERNS = [
    re.compile(r"<(?:script|img|iframe|source|audio|video|embed|input|track)\b[^>]*?\bsrc\s*=" + _REMOTE, re.I),
    re.compile(r"<link\b[^>]*?\bhref\s*=" + _REMOTE, re.I),
    re.compile(r"\bsrcset\s*=" + _REMOTE, re.I),
    re.compile(r"\burl\(" + _REMOTE, re.I),
    re.compile(r"@import\s+(?:url\()?" + _REMOTE, re.I),
    re.compile(r"\bimport\(" + _REMOTE, re.I),
]


def numbered_notebooks(directory: Path) -> list[Path]:
    """The report's chapters in ``directory``, in order (``NN_name.ipynb``)."""
    return sorted(p for p in Path(directory).glob("*.ipynb") if NOTEBOOK_RE.match(p.name))


def offline_problems(html: str) -> list[str]:
    """Every reference in ``html`` that a browser would fetch from the network (empty: offline-safe).
    Plain ``<a href="https://...">`` links are not fetched and are not reported."""
    return [m.group(0)[:160] for pat in _NETWORK_PATTERNS for m in pat.finditer(html)]


@dataclass
class Chapter:
    path: Path
    nb: nbformat.NotebookNode
    title: str
    summary: str
    headings: list[dict] = field(default_factory=list)  # level, id, text, cell (index in nb.cells)

    @property
    def page(self) -> str:
        return self.path.stem + ".html"

    def link(self, heading_id: str | None = None) -> str:
        return self.page + (f"#{quote(heading_id, safe=_URL_SAFE)}" if heading_id else "")

    def section_before(self, cell_index: int) -> dict | None:
        """The last heading (below the title) at or before cell ``cell_index``."""
        found = [h for h in self.headings if h["cell"] <= cell_index and h["level"] > 1]
        return found[-1] if found else None


class _Headings(HTMLParser):
    """Headings of rendered markdown, with the ``id`` nbconvert gave them (the anchor link's text dropped)."""

    def __init__(self):
        super().__init__()
        self.found, self._open, self._skip = [], None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag) and attrs.get("id"):
            self._open = {"level": int(tag[1]), "id": attrs["id"], "text": ""}
        elif tag == "a" and "anchor-link" in (attrs.get("class") or ""):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag == "a" and self._skip:
            self._skip -= 1
        elif self._open and tag == f"h{self._open['level']}":
            self._open["text"] = " ".join(self._open["text"].split())
            self.found.append(self._open)
            self._open = None

    def handle_data(self, data):
        if self._open and not self._skip:
            self._open["text"] += data


def headings(nb) -> list[dict]:
    """The markdown headings of a notebook, with the ids nbconvert's own markdown renderer gives them."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            parser = _Headings()
            parser.feed(markdown2html_mistune(cell.source))
            out += [{**h, "cell": i} for h in parser.found]
    return out


def _paragraphs(markdown: str) -> list[str]:
    """Text paragraphs of a markdown cell (headings, lists and blank lines dropped), each on one line."""
    text = re.sub(r"(?m)^ {0,3}#.*$", "", markdown)
    paras = [" ".join(b.split()) for b in re.split(r"\n\s*\n", text)]
    return [p for p in paras if p and not p.startswith(("- ", "* ", "1. ", "|", "```", "<"))]


def _sentences(paragraph: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z*`(\"])", paragraph)


def summary(nb) -> str:
    """One sentence about a chapter: from its opening cell, the sentence saying what "this chapter" does
    (with the one before it when it is short), else the first sentence of the first paragraph."""
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    paras = _paragraphs(first.source) if first else []
    sentences = [s for p in paras for s in _sentences(p)]
    at = next((i for i, s in enumerate(sentences) if "this chapter" in s.lower()), 0)
    if at and len(sentences[at]) < 60:  # "This chapter puts all of them side by side.": say what "them" is
        return f"{sentences[at - 1]} {sentences[at]}"
    return sentences[at] if sentences else ""


def read_chapter(path: Path) -> Chapter:
    nb = nbformat.read(path, as_version=4)
    heads = headings(nb)
    title = next((h["text"] for h in heads if h["level"] == 1), path.stem)
    return Chapter(path, nb, title, summary(nb), heads)


def tagged(nb, tag: str) -> list[tuple[int, nbformat.NotebookNode]]:
    return [(i, c) for i, c in enumerate(nb.cells) if tag in c.metadata.get("tags", [])]


def _exporter(**traits) -> HTMLExporter:
    # embed_images: a markdown image that points at a local file is inlined too
    return HTMLExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATE_DIR)],
                        embed_images=True, **traits)


def _site(chapters: list[Chapter], current: int | None) -> dict:
    """What the template's table of contents and pager need; ``current`` None is the front page."""
    def entry(ch):
        return {"page": ch.page, "title": ch.title}

    if current is None:
        prev, nxt = None, (entry(chapters[0]) if chapters else None)
    else:
        prev = entry(chapters[current - 1]) if current > 0 else None
        nxt = entry(chapters[current + 1]) if current + 1 < len(chapters) else None
    own = chapters[current].headings if current is not None else []
    return {"title": SITE_TITLE, "index": INDEX, "is_index": current is None, "prev": prev, "next": nxt,
            "chapters": [{**entry(ch), "current": i == current} for i, ch in enumerate(chapters)],
            "headings": [h for h in own if h["level"] in (2, 3)]}


def _render(exporter: HTMLExporter, nb, name: str, path: Path, site: dict) -> str:
    resources = {"metadata": {"name": name, "path": str(path)}, "site": site}
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    problems = offline_problems(html)
    if problems:
        raise ValueError(f"{name}: the page would fetch from the network: {problems}")
    return html


def _outputs(cell, keep) -> list:
    """The outputs of ``cell`` that carry data, reduced to the mime types ``keep`` accepts."""
    out = []
    for o in cell.get("outputs", []):
        data = {k: v for k, v in o.get("data", {}).items() if keep(k)}
        if o.get("output_type") in ("display_data", "execute_result") and data:
            out.append(nbformat.v4.new_output("display_data", data=data))
    return out


def _missing(text: str) -> str:
    return f'<p class="site-missing">{text}</p>'


def _question(chapters: list[Chapter]) -> str:
    """The first paragraph of the cell tagged ``site-question`` (untagged: of the first chapter's opening cell)."""
    cells = [c for ch in chapters for _, c in tagged(ch.nb, QUESTION_TAG)]
    if not cells and chapters:
        cells = [c for c in chapters[0].nb.cells if c.cell_type == "markdown"][:1]
    paras = _paragraphs(cells[0].source) if cells else []
    return paras[0] if paras else _missing("No chapter states the question yet.")


def _md(text: str) -> str:
    """Plain text (a heading's) as markdown that renders as that text."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


def _caption(ch: Chapter, i: int) -> str:
    section = ch.section_before(i)
    where = f" &middot; [{_md(section['text'])}]({ch.link(section['id'])})" if section else ""
    return f"[{_md(ch.title)}]({ch.page}){where}"


def index_notebook(chapters: list[Chapter]):
    """The front page as a notebook: markdown cells and output-only code cells taken from the chapters
    (the question, the results table, one line per chapter, the key figures)."""
    md, cells = nbformat.v4.new_markdown_cell, []
    cells.append(md(f"# {SITE_TITLE}\n\n## The question\n\n{_question(chapters)}"))

    results = [(ch, i, c) for ch in chapters for i, c in tagged(ch.nb, RESULTS_TAG)]
    cells.append(md("## Results"))
    for ch, i, cell in results:
        outputs = _outputs(cell, lambda mime: mime in ("text/html", "text/plain"))
        if outputs:
            cells.append(md(f"From {_caption(ch, i)}:"))
            cells.append(nbformat.v4.new_code_cell(outputs=outputs))
        else:
            cells.append(md(_missing(f"The results table is not available yet: {ch.path.name} has not "
                                     "been run (<code>make report</code>).")))
    if not results:
        cells.append(md(_missing("The results table is not available yet: no chapter has a cell tagged "
                                 f"<code>{RESULTS_TAG}</code>.")))

    lines = [f"- [{_md(ch.title)}]({ch.page}): {ch.summary}" for ch in chapters]
    cells.append(md("## Chapters\n\n" + ("\n".join(lines) or _missing("No chapters found."))))

    cells.append(md("## Key figures"))
    figures = 0
    for ch in chapters:
        for i, cell in tagged(ch.nb, FIGURE_TAG):
            outputs = _outputs(cell, lambda mime: mime.startswith("image/"))
            if outputs:
                figures += 1
                cells.append(md(_caption(ch, i)))
                cells.append(nbformat.v4.new_code_cell(outputs=outputs))
    if not figures:
        cells.append(md(_missing("No figures yet: the chapters have not been run (<code>make report</code>).")))

    return nbformat.v4.new_notebook(cells=cells, metadata={"title": SITE_TITLE})


def build(notebook_dir: Path, html_dir: Path, chapters: list[Path] | None = None) -> Path:
    """Write the site into ``html_dir`` from the numbered notebooks of ``notebook_dir``; return the index.

    ``chapters``: the notebooks whose pages to (re)render (default: all); a chapter page that does not
    exist yet is rendered too, so every link of the table of contents resolves. The front page is always
    rebuilt from all chapters. Every page is written atomically."""
    notebook_dir, html_dir = Path(notebook_dir), Path(html_dir)
    all_chapters = [read_chapter(p) for p in numbered_notebooks(notebook_dir)]
    wanted = None if chapters is None else {Path(p).name for p in chapters}
    if wanted is not None and not wanted <= {ch.path.name for ch in all_chapters}:
        raise ValueError(f"not numbered notebooks of {notebook_dir}: "
                         f"{sorted(wanted - {ch.path.name for ch in all_chapters})}")
    chapter_exporter = _exporter()
    for i, ch in enumerate(all_chapters):
        target = html_dir / ch.page
        if wanted is None or ch.path.name in wanted or not target.exists():
            html = _render(chapter_exporter, ch.nb, ch.title, notebook_dir, _site(all_chapters, i))
            write_text(target, html)
    index_exporter = _exporter(template_file="site_index.html.j2", exclude_input=True,
                               exclude_input_prompt=True, exclude_output_prompt=True)
    html = _render(index_exporter, index_notebook(all_chapters), SITE_TITLE, notebook_dir,
                   _site(all_chapters, None))
    return write_text(html_dir / INDEX, html)
