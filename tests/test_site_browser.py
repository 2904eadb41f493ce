"""The report site in a real browser, with the network off.

Headless Chromium (Debian's ``/usr/bin/chromium``, driven by playwright) opens every page of a site built
from the committed chapters as ``file://``. Every request that is not ``file:`` or ``data:`` is aborted and
recorded, as is every failed request, console error and page error; the test asserts there are none, that
the images decoded, and that the links between pages work. Screenshots of the front page and of one
chapter go to ``$QUAKE_SITE_SCREENSHOTS`` (else the test's tmp folder), to look at.

    QUAKE_SITE_SCREENSHOTS=/tmp/site_shots .venv/bin/python -m pytest tests/test_site_browser.py -q

Skips, saying why, without playwright (the Python package; no browser download is needed) or without
``/usr/bin/chromium`` (``apt-get install -y chromium``).
"""
import os
from pathlib import Path

import pytest

from quake_lib import paths
from quake_lib.report import site

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOT_CHAPTER = "06_comparison.html"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright; it drives /usr/bin/chromium)")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"no Chromium at {CHROMIUM} (Debian/Ubuntu: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    site.build(paths.NOTEBOOKS_DIR, out)
    return out


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path):
    d = Path(os.environ.get("QUAKE_SITE_SCREENSHOTS") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


class Offline:
    """A browser context that lets only ``file:`` and ``data:`` through and records everything else."""

    def __init__(self, browser):
        self.blocked, self.failed, self.errors = [], [], []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url[:120]}: {r.failure}"))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def open(self, path: Path):
        response = self.page.goto(path.resolve().as_uri(), wait_until="load")
        assert response is None or response.ok, f"{path.name}: {response.status}"
        return self.page

    def assert_clean(self):
        assert not self.blocked, f"network requests (aborted): {self.blocked}"
        assert not self.failed, f"failed requests: {self.failed}"
        assert not self.errors, f"errors: {self.errors}"


def images_ok(page) -> bool:
    return page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


def test_every_page_loads_offline(browser, site_dir):
    pages = sorted(site_dir.glob("*.html"))
    assert len(pages) == len(site.numbered_notebooks(paths.NOTEBOOKS_DIR)) + 1  # the chapters and the index
    for path in pages:
        tab = Offline(browser)
        page = tab.open(path)
        assert page.locator("nav.site-toc a").count() >= 6, path.name
        assert images_ok(page), f"{path.name}: an image did not decode"
        tab.assert_clean()
        tab.context.close()


def test_front_page_and_a_chapter(browser, site_dir, shots):
    tab = Offline(browser)
    page = tab.open(site_dir / "index.html")
    assert page.title() == site.SITE_TITLE
    assert page.locator("table.dataframe").count() == 1, "the results table is not on the front page"
    assert page.locator("img").count() >= 3, "the key figures are not on the front page"
    page.screenshot(path=str(shots / "index.png"), full_page=True)

    page.click("main a[rel=next]")  # the pager leads to chapter 1, and its table of contents onwards
    assert page.url.endswith("/01_eda.html")
    page.click(f"nav.site-toc a[href='{SHOT_CHAPTER}']")
    assert page.url.endswith("/" + SHOT_CHAPTER)
    assert page.locator("nav.site-toc li.current a[aria-current=page]").inner_text().startswith("6.")
    section = page.locator("nav.site-toc li.current ul a").nth(1)
    target = section.get_attribute("href")
    section.click()  # an in-page section link lands on its heading
    assert page.evaluate(f"document.getElementById({target[1:]!r}).getBoundingClientRect().top") < 50
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "chapter.png"))
    tab.assert_clean()
    tab.context.close()


def test_the_guard_sees_a_network_request(browser, tmp_path):
    """The recorders work: a page that loads a CDN script is caught (so a clean run means something)."""
    page_path = tmp_path / "cdn.html"
    page_path.write_text('<html><head><script src="https://cdn.jsdelivr.net/npm/x.js"></script></head>'
                         "<body>x</body></html>")
    tab = Offline(browser)
    tab.open(page_path)
    with pytest.raises(AssertionError, match="cdn.jsdelivr.net"):
        tab.assert_clean()
    tab.context.close()
