"""The built book in a real browser: every page of ``_build/html`` opened in headless Chromium
at a desktop width (1400 px) and a phone width (390 px), measured as it renders.

Markup can only estimate how wide a table will be (``tests/test_book_html.py``); here the
browser lays the page out and each check names the page, the width and the element. Every
``<details>`` (collapsed tables, dropdowns) is opened first, so that what it hides is measured
too. A page fails on

* **a table or figure wider than its column** at 1400 px: its right edge past the right edge of
  the article's content column, or part of it hidden in a box that scrolls sideways (``N px of
  table in a M px column``). At 390 px a table may scroll sideways only if its first column
  stays in view (CSS ``position: sticky``: the report's ``div.pinned-table`` wrapper,
  ``mer_utils.report.style.table``, and on a phone every table of the text,
  ``book/_static/custom.css``) and takes at most :data:`MAX_PINNED_SHARE` of the visible
  width, so that every other column, the ones the text cites included, can be scrolled into view
  beside the row's label. A figure may scroll sideways at 390 px (that is how it keeps its size
  on a phone) but never stick out of the column;
* **figure text too small**: the smallest text of a figure, in CSS px as rendered, = its
  matplotlib size in pt x dpi / 72 x rendered width / natural width, below
  :data:`MIN_TEXT_SHARE` of the body text's size. The size in pt x dpi / 72 is written into each
  PNG by :func:`mer_utils.report.style.png` (a ``tEXt`` chunk :data:`FONT_KEY`); a figure of a
  notebook output without it was not drawn by the report's formatter and fails (other images,
such as the introduction's headline figure, are checked where they carry it). Checked at both
  widths (on a phone figures keep their size and scroll, ``book/_static/custom.css``);
* **a negative zero** (``-0.00``, ``−0``) anywhere in the page's text;
* **stderr output**: a cell output of class ``stderr`` / ``output_stderr`` (warnings, logs);
* **a stale banner**: a page saying that datasets are "not complete in the latest run" while
  the runner's manifest (``book/results/manifest.json``) says every page of that run succeeded.

Without ``_build/html`` these checks are skipped (a fresh clone's ``make test``), and so they
are without Chromium or the ``playwright`` package; ``make check-book`` sets
``BOOK_HTML_REQUIRED=1``, which makes each of those a failure. Chromium is the distribution's
(``/usr/bin/chromium``, ``CHROMIUM`` to use another), driven by playwright, which never
downloads a browser here. The checks themselves are tested on small pages at the end.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("BOOK_HTML_DIR") or REPO / "_build" / "html")
REQUIRED = bool(os.environ.get("BOOK_HTML_REQUIRED"))
MANIFEST = REPO / "book" / "results" / "manifest.json"
CHROMIUM = os.environ.get("CHROMIUM") or next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
    "/usr/bin/chromium",
)
WIDTHS = (1400, 390)
DESKTOP = 1400
MIN_TEXT_SHARE = 0.75
"""Figure text at least this share of the body text's size."""
MAX_PINNED_SHARE = 0.6
"""A pinned first column takes at most this share of the visible table width."""
FONT_KEY = "mer:min_font_px"
"""The PNG text chunk with a figure's smallest text in image pixels (``style.png``)."""
STALE = "Not complete in the latest run"
SKIPPED_FOLDERS = ("_static", "_sources", "_downloads", "_images", "_sphinx_design_static")
SLACK = 1.5  # px: sub-pixel rounding

MEASURE = r"""
() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const art = document.querySelector('article.bd-article') || document.querySelector('main')
    || document.body;
  const box = art.getBoundingClientRect();
  const st = getComputedStyle(art);
  const colRight = box.right - parseFloat(st.paddingRight || 0);
  const colWidth = box.width - parseFloat(st.paddingLeft || 0) - parseFloat(st.paddingRight || 0);
  const para = [...art.querySelectorAll('p')].find(p => p.closest('.cell_output') === null);
  const body = parseFloat(getComputedStyle(para || art).fontSize);
  const heading = el => {
    let h = null;
    for (const c of art.querySelectorAll('h1, h2, h3, h4')) {
      if (c.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) h = c; else break;
    }
    return h ? h.textContent.replace(/#$/, '').trim() : '';
  };
  const scrolled = el => {
    let hidden = 0, scroller = null;
    for (let e = el; e && e !== art; e = e.parentElement) {
      const ox = getComputedStyle(e).overflowX;
      if (ox !== 'visible' && ox !== 'clip' && e.scrollWidth > e.clientWidth + 1) {
        if (e.scrollWidth - e.clientWidth > hidden) { hidden = e.scrollWidth - e.clientWidth; scroller = e; }
      }
    }
    return [hidden, scroller];
  };
  const tables = [...art.querySelectorAll('table')].map((t, i) => {
    const r = t.getBoundingClientRect();
    const [hidden, scroller] = scrolled(t);
    const first = t.querySelector('tr > :first-child');
    const sticky = !!first && getComputedStyle(first).position === 'sticky';
    const cap = t.closest('.pinned-table, .cell_output, .output');
    const caption = (cap && cap.querySelector('.mer-caption')) || t.querySelector('caption');
    return {
      index: i, heading: heading(t), caption: caption ? caption.textContent.trim() : '',
      width: Math.max(t.scrollWidth, r.width), right: r.right,
      hidden, visible: scroller ? scroller.clientWidth : r.width,
      pinned: sticky && (!scroller || scroller.contains(t)),
      first: first ? first.getBoundingClientRect().width : 0,
    };
  });
  const images = [...art.querySelectorAll('img')].map((img, i) => {
    const r = img.getBoundingClientRect();
    const [hidden] = scrolled(img);
    return {
      index: i, heading: heading(img), src: img.currentSrc || img.src,
      natural: img.naturalWidth, rendered: r.width, right: r.right, hidden,
      output: !!img.closest('.cell_output, .output'),
    };
  });
  const stderr = [...art.querySelectorAll('.stderr, .output_stderr, [data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent.trim().slice(0, 80));
  const banners = [...art.querySelectorAll('.admonition, aside, div')]
    .filter(e => e.children.length < 40 && e.textContent.includes('%s'))
    .map(e => e.textContent.trim().slice(0, 120)).slice(0, 1);
  const text = art.innerText;
  const zeros = [...text.matchAll(/(?<![\w.])[-\u2212]0(?:\.0+)?(?![\d.])/g)]
    .map(z => text.slice(Math.max(0, z.index - 30), z.index + 10).replace(/\s+/g, ' '));
  return {colRight, colWidth, body, tables, images, stderr, banners, zeros};
}
""".replace("%s", STALE)


@dataclass(frozen=True)
class Problem:
    page: str
    width: int
    kind: str
    element: str
    detail: str

    def __str__(self) -> str:
        return f"{self.page} at {self.width} px: {self.element}: {self.detail}"


# ----------------------------------------------------------------------------- helpers
def png_text(data: bytes) -> dict[str, str]:
    """The ``tEXt`` and ``zTXt`` chunks of a PNG (empty for anything else)."""
    out: dict[str, str] = {}
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return out
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and b"\0" in chunk:
            key, _, value = chunk.partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt" and b"\0" in chunk:
            key, _, rest = chunk.partition(b"\0")
            out[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"IEND":
            break
        pos += 12 + length
    return out


def image_bytes(src: str) -> bytes | None:
    if src.startswith("data:"):
        head, _, payload = src.partition(",")
        return base64.b64decode(payload) if ";base64" in head else None
    url = urlparse(src)
    if url.scheme == "file":
        path = Path(unquote(url.path))
        return path.read_bytes() if path.is_file() else None
    return None


def _name(item: dict, what: str) -> str:
    label = item.get("caption") or item.get("heading") or ""
    label = " ".join(label.split())
    label = label if len(label) <= 60 else label[:59] + "…"
    return f"{what} {item['index'] + 1}" + (f" ({label})" if label else "")


def manifest_complete(path: Path = MANIFEST) -> bool | None:
    """Whether every page of the latest run succeeded (None: no readable manifest)."""
    try:
        pages = json.loads(path.read_text())["pages"]
    except (OSError, ValueError, KeyError):
        return None
    return all(p.get("status") in ("ok", "cached") for p in pages)


def problems_of(m: dict, page: str, width: int, complete: bool | None) -> list[Problem]:
    """The problems of one page's measurement (:data:`MEASURE`) at one width."""
    out = []

    def add(kind, element, detail):
        out.append(Problem(page, width, kind, element, detail))

    for t in m["tables"]:
        name = _name(t, "table")
        over = t["right"] - m["colRight"]
        if over > SLACK:
            add("overflow", name, f"sticks out of the column by {over:.0f} px")
        if t["hidden"] <= SLACK:
            continue
        seen = f"{t['width']:.0f} px of table in a {t['visible']:.0f} px column"
        if width >= DESKTOP:
            add("overflow", name, seen + " (columns hidden at desktop width)")
        elif not t["pinned"]:
            add("overflow", name, seen + ", scrolling without a pinned first column")
        elif t["first"] > MAX_PINNED_SHARE * t["visible"]:
            add(
                "overflow",
                name,
                f"its pinned first column takes {t['first']:.0f} of {t['visible']:.0f} px",
            )
    for img in m["images"]:
        name = _name(img, "figure")
        over = img["right"] - m["colRight"]
        if over > SLACK and not img["hidden"]:
            add("overflow", name, f"sticks out of the column by {over:.0f} px")
        if width >= DESKTOP and img["hidden"] > SLACK:
            add("overflow", name, f"{img['hidden']:.0f} px of it hidden at desktop width")
        if not img["natural"]:
            continue
        data = image_bytes(img["src"])
        record = png_text(data).get(FONT_KEY) if data else None
        if record is None:
            if img["output"]:  # a figure of the report; other images are checked where recorded
                add("figure text", name, "no record of its text size (not drawn by style.png)")
            continue
        if record == "none":  # no text at all
            continue
        px = float(record) * img["rendered"] / img["natural"]
        if px < MIN_TEXT_SHARE * m["body"] - 0.05:
            add(
                "figure text",
                name,
                f"smallest text {px:.1f} px, below {MIN_TEXT_SHARE:.0%} of the "
                f"{m['body']:.0f} px body text ({float(record):.1f} px drawn, shown at "
                f"{img['rendered']:.0f} of {img['natural']} px)",
            )
    for text in m["zeros"]:
        add("negative zero", "text", repr(text))
    for text in m["stderr"]:
        add("stderr", "stderr output", repr(text))
    if complete and m["banners"]:
        add("stale banner", "banner", f"{m['banners'][0]!r}, but every page of the run succeeded")
    return out


def pages(build: Path) -> list[Path]:
    """The book's pages: not the theme's folders, the index and search pages, or a page that
    only redirects (``index.html``)."""
    return sorted(
        p
        for p in build.rglob("*.html")
        if not set(p.relative_to(build).parts[:1]) & set(SKIPPED_FOLDERS)
        and p.name not in ("genindex.html", "search.html")
        and 'http-equiv="refresh"' not in p.read_text("utf-8", errors="replace")[:2000].lower()
    )


def _unavailable(message: str):
    if REQUIRED:
        pytest.fail(message + " (make check-book requires it)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (requirements.txt)")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def measure(browser, url: str, widths=WIDTHS) -> dict[int, dict]:
    """The page at ``url`` measured at each of ``widths``: loaded once, then resized (the
    stylesheet's media queries apply as on a device of that width)."""
    page = browser.new_page(viewport={"width": widths[0], "height": 900})
    try:
        page.goto(url, wait_until="load")
        out = {}
        for width in widths:
            page.set_viewport_size({"width": width, "height": 900})
            page.evaluate("document.fonts.ready.then(() => new Promise(requestAnimationFrame))")
            out[width] = page.evaluate(MEASURE)
        return out
    finally:
        page.close()


# ----------------------------------------------------------------------------- the built book
@pytest.fixture(scope="module")
def book_problems(browser) -> list[Problem]:
    if not (BUILD / "index.html").exists():
        _unavailable(f"no built book at {BUILD}: run `make book` first")
    complete = manifest_complete()
    problems = []
    for path in pages(BUILD):
        name = str(path.relative_to(BUILD))
        for width, m in measure(browser, path.as_uri()).items():
            problems += problems_of(m, name, width, complete)
    return problems


def _report(problems: list[Problem], kind: str) -> None:
    found = [p for p in problems if p.kind == kind]
    lines = [str(p) for p in found[:80]]
    if len(found) > 80:
        lines.append(f"... and {len(found) - 80} more")
    assert not found, f"{len(found)} elements with {kind}:\n" + "\n".join(lines)


def test_no_table_or_figure_wider_than_its_column(book_problems):
    _report(book_problems, "overflow")


def test_figure_text_is_at_least_three_quarters_of_the_body_text(book_problems):
    _report(book_problems, "figure text")


def test_no_stderr_output(book_problems):
    _report(book_problems, "stderr")


def test_no_negative_zero(book_problems):
    _report(book_problems, "negative zero")


def test_no_banner_that_disagrees_with_the_manifest(book_problems):
    _report(book_problems, "stale banner")


# ----------------------------------------------------------------------------- the checks themselves
CSS = (REPO / "book" / "_static" / "custom.css").read_text()


def _check(browser, body: str, width: int, tmp_path, complete=True) -> list[str]:
    """The problems of a small page: ``body`` in an article column 784 px wide (at most)."""
    html = (
        f"<html><head><style>{CSS} article.bd-article {{ max-width: 784px; padding: 0; }}"
        " body { margin: 0; font-size: 16px; } img { max-width: 100%; height: auto; }"
        "</style></head>"
        f"<body><main><article class='bd-article'><p>Text.</p>{body}</article></main></body></html>"
    )
    path = tmp_path / f"page{width}.html"
    path.write_text(html)
    m = measure(browser, path.as_uri(), (width,))[width]
    return [f"{p.kind}: {p.detail}" for p in problems_of(m, "p", width, complete)]


def _table(columns: int, pinned: bool) -> str:
    cell = "<td class='nowrap'>" if pinned else "<td class='nowrap' style='position: static'>"
    row = "".join(f"{cell}cell-number-{i:02d}</td>" for i in range(columns))
    table = f"<table class='dataframe mer'><tr>{row}</tr><tr>{row}</tr></table>"
    if pinned:
        return f"<div class='pinned-table'>{table}</div>"
    return f"<div style='overflow-x: auto'>{table}</div>"  # a first column that scrolls away


def test_checker_finds_a_table_wider_than_the_column(browser, tmp_path):
    assert _check(browser, _table(4, pinned=True), 1400, tmp_path) == []
    wide = _check(browser, _table(12, pinned=True), 1400, tmp_path)
    assert len(wide) == 1 and "columns hidden at desktop width" in wide[0], wide
    # on a phone a wide table may scroll, but only with its first column pinned
    assert _check(browser, _table(12, pinned=True), 390, tmp_path) == []
    loose = _check(browser, _table(12, pinned=False), 390, tmp_path)
    assert any("without a pinned first column" in p for p in loose), loose


def test_checker_finds_a_pinned_column_that_leaves_no_room(browser, tmp_path):
    style = "white-space: nowrap; max-width: none"  # the book's CSS would wrap it on a phone
    label = f"<td class='nowrap' style='{style}'>" + "a-long-row-label-" * 3 + "</td>"
    row = label + "".join(f"<td class='nowrap'>cell-{i:02d}</td>" for i in range(8))
    body = f"<div class='pinned-table'><table class='dataframe mer'><tr>{row}</tr></table></div>"
    found = _check(browser, body, 390, tmp_path)
    assert any("pinned first column takes" in p for p in found), found


def _figure_png(font_px: str | None, width: int) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width / 100, 1), dpi=100)
    buf = io.BytesIO()
    meta = {FONT_KEY: font_px} if font_px else {}
    fig.savefig(buf, format="png", dpi=100, metadata=meta)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_checker_measures_figure_text_as_rendered(browser, tmp_path):
    def figure(font_px, width):
        return f"<div class='cell_output'><img src='{_figure_png(font_px, width)}'></div>"

    assert _check(browser, figure("12.5", 700), 1400, tmp_path) == []
    # the same text in a figure twice the column's width is shown at less than half its size
    small = _check(browser, figure("12.5", 1600), 1400, tmp_path)
    assert len(small) == 1 and "smallest text 6.1 px" in small[0], small
    assert _check(browser, figure("9.0", 700), 1400, tmp_path) != []
    unknown = _check(browser, figure(None, 700), 1400, tmp_path)
    assert unknown == ["figure text: no record of its text size (not drawn by style.png)"]
    assert _check(browser, figure("none", 700), 1400, tmp_path) == []
    # on a phone a figure keeps its size and scrolls (custom.css) instead of shrinking
    assert _check(browser, figure("12.5", 700), 390, tmp_path) == []


def test_checker_finds_stderr_and_stale_banners(browser, tmp_path):
    stderr = "<div class='cell_output'><div class='output stderr'><pre>WARNING retracing</pre></div></div>"
    assert _check(browser, stderr, 1400, tmp_path) == ["stderr: 'WARNING retracing'"]
    banner = f"<div class='admonition important'><p><b>{STALE}:</b> SMIC (x failed).</p></div>"
    stale = _check(browser, banner, 1400, tmp_path, complete=True)
    assert len(stale) == 1 and stale[0].startswith("stale banner"), stale
    assert _check(browser, banner, 1400, tmp_path, complete=False) == []


def test_checker_finds_negative_zeros(browser, tmp_path):
    text = "<p>a difference of -0.00 and of −0.0, not -0.01, 10-0 or 0.00</p>"
    found = _check(browser, text, 1400, tmp_path)
    assert len(found) == 2 and "-0.00 and" in found[0] and "of −0.0," in found[1], found


def test_manifest_complete_reads_the_runs_pages(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"pages": [{"status": "ok"}, {"status": "cached"}]}))
    assert manifest_complete(path) is True
    path.write_text(json.dumps({"pages": [{"status": "ok"}, {"status": "failed"}]}))
    assert manifest_complete(path) is False
    assert manifest_complete(tmp_path / "missing.json") is None
