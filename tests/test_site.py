"""The report site (``reports/index.html`` and the chapter pages), checked statically.

The site is built from the committed chapters into a tmp folder: the front page links every chapter,
each chapter page has the table of contents and previous / next links, no page refers to anything on
the network, the results table and the key figures are on the front page, and missing outputs give a
page that says so. ``tests/test_site_browser.py`` opens the same pages in headless Chromium.
"""
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from quake_lib import paths
from quake_lib.report import site

CHAPTERS = site.numbered_notebooks(paths.NOTEBOOKS_DIR)


class Page(HTMLParser):
    """The links, ids, images and scripts of a page; links inside ``nav.site-toc`` and the pager apart."""

    def __init__(self, path: Path):
        super().__init__()
        self.links, self.toc_links, self.ids, self.rel, self.imgs, self.scripts = [], [], set(), {}, [], []
        self.current, self._navs = [], []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "nav":
            self._navs.append(a.get("class", ""))
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
            if any("site-toc" in n for n in self._navs):
                self.toc_links.append(a["href"])
                if a.get("aria-current") == "page":
                    self.current.append(a["href"])
            if a.get("rel"):
                self.rel.setdefault(a["rel"], set()).add(a["href"])
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag == "script":
            self.scripts.append(a)

    def handle_endtag(self, tag):
        if tag == "nav" and self._navs:
            self._navs.pop()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    index = site.build(paths.NOTEBOOKS_DIR, out)
    assert index == out / "index.html"
    return out


def test_numbered_notebooks(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "scratch.ipynb", "1_x.ipynb", "03_C.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in site.numbered_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]
    assert len(CHAPTERS) >= 7


def test_front_page_links_every_chapter(built):
    page = Page(built / "index.html")
    for nb in CHAPTERS:
        assert nb.stem + ".html" in page.links, f"the front page does not link {nb.stem}"
    for href in page.links:
        if "://" not in href and not href.startswith("#"):
            assert (built / href.split("#")[0]).is_file(), f"broken link {href}"
    assert page.rel == {"next": {"01_eda.html"}}


def test_chapter_pages_have_contents_and_pager(built):
    pages = [nb.stem + ".html" for nb in CHAPTERS]
    for i, name in enumerate(pages):
        page = Page(built / name)
        assert set(pages) | {"index.html"} <= set(page.toc_links), f"{name}: incomplete table of contents"
        assert page.current == [name], f"{name}: the current chapter is not marked"
        assert page.rel.get("prev") == ({pages[i - 1]} if i else None), f"{name}: previous link"
        assert page.rel.get("next") == ({pages[i + 1]} if i + 1 < len(pages) else None), f"{name}: next link"
        sections = [h for h in page.toc_links if h.startswith("#")]
        assert sections, f"{name}: the table of contents lists none of the chapter's sections"
        for href in sections:
            assert href[1:] in page.ids, f"{name}: section link {href} leads nowhere"
        for href in page.links:
            if "://" not in href and not href.startswith(("#", "mailto:")):
                target, _, frag = href.partition("#")
                assert (built / target).is_file(), f"{name}: broken link {href}"
                if frag and target != name:
                    assert frag in Page(built / target).ids, f"{name}: {href} leads nowhere"


def test_no_page_fetches_from_the_network(built):
    for path in sorted(built.glob("*.html")):
        html = path.read_text(encoding="utf-8")
        assert site.offline_problems(html) == [], path.name
        page = Page(path)
        assert not [s for s in page.scripts if "src" in s], f"{path.name}: an external script"
        assert all(src.startswith("data:image/") for src in page.imgs), f"{path.name}: a non-embedded image"
        for cdn in ("require.js", "mathjax", "mermaid.esm", "html-manager", "fonts.googleapis"):
            assert cdn not in html.lower(), f"{path.name} mentions {cdn}"
        assert str(paths.ROOT) not in html, f"{path.name} holds the checkout's absolute path"


def test_front_page_holds_question_results_and_figures(built):
    html = (built / "index.html").read_text(encoding="utf-8")
    assert "The question" in html and "how long until the next slip" in html
    assert html.count('class="dataframe"') == 1 and "vs_lightgbm" in html, "no results table"
    tagged = sum(1 for nb_path in CHAPTERS for c in nbformat.read(nb_path, as_version=4).cells
                 if site.FIGURE_TAG in c.metadata.get("tags", []))
    assert tagged >= 3 and len(Page(built / "index.html").imgs) == tagged, "the key figures are not all there"
    assert "06_comparison.html#MAE-on-held-out-cycles" in html  # the table says where it comes from
    assert "not available" not in html


def test_offline_checker_flags_network_references():
    bad = [
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>',
        "<script type='text/javascript' src='//cdn.example.org/x.js'></script>",
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">',
        '<img alt="x" src="http://example.org/x.png">',
        '<style>@import url("https://example.org/a.css");</style>',
        "<style>@import 'https://example.org/a.css';</style>",
        '<div style="background: url(//example.org/bg.png)"></div>',
        '<script type="module">const m = (await import("https://cdn.example.org/mermaid.mjs")).default;</script>',
    ]
    for html in bad:
        assert site.offline_problems(html), html
    good = ('<a href="https://arxiv.org/abs/1807.03748">paper</a><img src="data:image/png;base64,AAAA">'
            '<style>.x { background: url(data:image/svg+xml;base64,AAAA) }</style><a href="02_x.html">next</a>')
    assert site.offline_problems(good) == []


def copy_unrun(nb_path: Path, folder: Path) -> None:
    """A chapter as it is before ``make report`` ran it: no outputs (its cell tags kept)."""
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, folder / nb_path.name)


def test_missing_outputs_give_a_page_that_says_so(tmp_path):
    src, out = tmp_path / "notebooks", tmp_path / "html"
    six = next(p for p in CHAPTERS if p.name.startswith("06"))
    for nb_path in CHAPTERS:  # chapter 6 absent, the others not run yet
        if nb_path != six:
            copy_unrun(nb_path, src)
    html = site.build(src, out).read_text(encoding="utf-8")
    assert "The results table is not available yet" in html and "No figures yet" in html
    assert len(list(out.glob("*.html"))) == len(CHAPTERS)  # the chapters but 6, and the index
    copy_unrun(six, src)  # chapter 6 arrives, not run: its table is missing, and said so
    html = site.build(src, out).read_text(encoding="utf-8")
    assert "06_comparison.ipynb has not been run" in html and len(list(out.glob("*.html"))) == len(CHAPTERS) + 1


def test_partial_rebuild_renders_what_is_asked_and_what_is_missing(tmp_path):
    src, out = tmp_path / "notebooks", tmp_path / "html"
    for nb_path in CHAPTERS[:2]:
        copy_unrun(nb_path, src)
    out.mkdir()
    (out / "01_eda.html").write_text("stale")
    site.build(src, out, chapters=[src / "02_spectrograms.ipynb"])
    assert (out / "01_eda.html").read_text() == "stale", "a chapter not asked for was re-rendered"
    assert (out / "02_spectrograms.html").stat().st_size > 1000 and (out / "index.html").exists()
    (out / "02_spectrograms.html").unlink()
    site.build(src, out, chapters=[])  # nothing asked, but a missing page is rendered
    assert (out / "02_spectrograms.html").exists()
    with pytest.raises(ValueError, match="09_nope.ipynb"):
        site.build(src, out, chapters=[Path("09_nope.ipynb")])


def test_chapter_titles_and_summaries():
    for nb_path in CHAPTERS:
        ch = site.read_chapter(nb_path)
        assert ch.title.startswith(f"{int(nb_path.name[:2])}. "), ch.title
        assert ch.summary.endswith(".") and 40 < len(ch.summary) < 400, (nb_path.name, ch.summary)
