"""The built book as a reader sees it: checks of every page of ``_build/html``.

Each check names the page and the element. A page fails on

* **truncated dataframes**: pandas' ``...`` cells (rows or columns left out) in a table, cell
  texts pandas cut short (``display.max_colwidth``: they end in ``...``), or the
  ``[N rows x M columns]`` footer of a truncated text repr in an output;
* **tables wider than the content column** (784 px, the theme's article column), unless the
  table keeps its first column in view while it scrolls: a table with the class
  :data:`PINNED_CLASS`, or inside an element with it (``book/_static/custom.css`` pins the first
  column of both). "Wider" is estimated from the text (:func:`table_estimate`):

  - the column count: more than :data:`MAX_COLUMNS` columns (index columns included) is too
    many to follow a row across without a pinned label, whatever the width;
  - the width: per column, the widest cell's text at :data:`CHAR_EM` em per character, plus
    the cell padding, summed over the columns (cells spanning rows or columns placed as a
    browser places them). Tables in notebook outputs do not wrap (``custom.css``:
    ``white-space: nowrap``), so a cell counts with its longest line; tables in the prose
    wrap, so a cell counts with its longest word only (the narrowest the browser can make it;
    inline code, which may wrap anywhere, with at most :data:`CODE_CHARS` characters). Both
    at the 16 px body font. A table over 784 px by this estimate overflows the column
    (Chromium agrees on this book's pages to about 10 %);
* **oversized images**: an ``<img>`` (a file or a ``data:`` URI) whose intrinsic width exceeds
  :data:`MAX_IMAGE_WIDTH` = 2.2 x 784 px: two device pixels per CSS pixel on a high-density
  screen, plus 10 %; more pixels are only bytes for the reader to download;
* **scientific notation in a table cell** (``-1.300e-03``): tables print plain decimals;
* **absolute paths of the build machine** in the page: the repository's own path (anywhere,
  code included), and in the text and in outputs any absolute path two folders deep or more
  (``/work/main/data/...``, ``/data/me/SAMM/``), home, temporary and package folders
  (``/root/``, ``/home/<user>/``, ``/Users/<user>/``, ``/tmp/``, ``.../site-packages/``). Code
  the authors wrote as an example (code blocks and inline code of the text, notebook inputs)
  may name ``/tmp/out.ipynb`` or ``/path/to/datasets``; what a notebook *printed* may not;
* **a script from a CDN** (``cdn.jsdelivr.net``, ``cdnjs.cloudflare.com``, ``unpkg.com``):
  MathJax and everything else must come with the book, so that it reads offline;
* **broken local links**: a link, image, script or stylesheet of the page whose file is not
  in the build (the downloads of the reproducibility page included).

These widths are estimates from the markup, a quick check without a browser;
``tests/test_book_browser.py`` measures the pages as Chromium renders them (widths, figure text,
stderr, banners) and is the one that decides what a reader sees.

Without ``_build/html`` these checks are skipped (a fresh clone's ``make test``).
``make check-book`` sets ``BOOK_HTML_REQUIRED=1``, which makes a missing build a failure;
``BOOK_HTML_DIR`` checks another build. The checker itself is tested on small HTML snippets at
the end of this file.
"""

from __future__ import annotations

import base64
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from bs4 import BeautifulSoup, NavigableString, Tag

REPO = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("BOOK_HTML_DIR") or REPO / "_build" / "html")
REQUIRED = bool(os.environ.get("BOOK_HTML_REQUIRED"))

CONTENT_WIDTH = 784
"""Pixels: the width of the theme's content column."""
MAX_IMAGE_WIDTH = 2.2 * CONTENT_WIDTH
MAX_COLUMNS = 9
PINNED_CLASS = "pinned-table"
"""A table with this class, or inside an element with it, keeps its first column in view
while it scrolls sideways (``book/_static/custom.css``): it may be as wide as it needs."""
CHAR_EM = 0.55
"""Average width of a character of the theme's sans-serif font, in em (digits are 0.55 em)."""
OUTPUT_FONT, OUTPUT_PADDING = 16, 12
"""Tables in notebook outputs: 16 px text; 12 px a column for padding, borders and bold
headers (fitted in Chromium on the 37 output tables of this book: the estimate falls within
-9 % and +13 % of the rendered width, +2 % in the median)."""
TEXT_FONT, TEXT_PADDING = 16, 16
"""Tables in the text: 16 px text, 0.5 rem padding left and right."""
CODE_CHARS = 12
"""Inline code in a table of the text may wrap anywhere (``custom.css``): it counts with at most
this many characters (its narrowest width is a few characters; 12 keeps it readable)."""
CDN_HOSTS = ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "unpkg.com")
SKIPPED_FOLDERS = ("_static", "_sources", "_downloads", "_images", "_sphinx_design_static")

ELLIPSIS = {"...", "…"}
TEXT_FOOTER = re.compile(r"\[\d+ rows x \d+ columns\]")
HTML_FOOTER = re.compile(r"^\d+ rows × \d+ columns$")
DISPLAY_REPR = re.compile(
    r"<(?:IPython\.core\.display|matplotlib\.[\w.]+)\.\w+ (?:object\b|at 0x)[^>]*>"
)
"""An object's repr printed where its content belonged (an empty ``Markdown``, a figure not
drawn): ``<IPython.core.display.Markdown object>``, ``<matplotlib.figure.Figure at 0x...>``."""
SCIENTIFIC = re.compile(r"(?<![\w.])[-+−]?(?:\d+(?:\.\d*)?|\.\d+)[eE][-+−]?\d+(?![\w.])")
MACHINE_PATH = re.compile(
    r"(?<![\w.~:/-])/(?:root|tmp|home/[\w.-]+|Users/[\w.-]+|private/var|var/folders)(?=/|\b)"
    r"|[\w.-]*/(?:site|dist)-packages/"
    r"|(?<![\w.~:/-])/(?:[\w.()^-]+/){2,}"  # any absolute path two folders deep or more
)


@dataclass(frozen=True)
class Problem:
    page: str
    kind: str
    element: str
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.element}: {self.detail}"


# ----------------------------------------------------------------------------- helpers
def _classes(el: Tag) -> list[str]:
    return list(el.get("class") or [])


def _in_output(el: Tag) -> bool:
    """Inside a notebook cell's output (what the code printed or displayed)."""
    return any(
        {"cell_output", "output"} & set(_classes(p)) for p in el.parents if isinstance(p, Tag)
    )


def _authored_code(node) -> bool:
    """Code the authors wrote: code blocks and inline code of the text, notebook inputs."""
    parents = [p for p in node.parents if isinstance(p, Tag)]
    if any({"cell_output", "output"} & set(_classes(p)) for p in parents):
        return False
    return any("cell_input" in _classes(p) or p.name in ("pre", "code") for p in parents)


def _heading_before(el: Tag) -> str:
    heading = el.find_previous(["h1", "h2", "h3", "h4"])
    if heading is None:
        return ""
    return heading.get_text(" ", strip=True).rstrip("#").strip()


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _rows(table: Tag) -> list[list[Tag]]:
    rows = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is table:
            rows.append(tr.find_all(["th", "td"], recursive=False))
    return rows


def _describe_table(table: Tag, index: int) -> str:
    header = [c.get_text(" ", strip=True) for c in (_rows(table) or [[]])[0]][:4]
    where = _heading_before(table)
    label = f"table {index}"
    if where:
        label += f' under "{_short(where, 50)}"'
    if any(header):
        label += f" (columns: {_short(' | '.join(header), 60)})"
    return label


def _pinned(table: Tag) -> bool:
    return PINNED_CLASS in _classes(table) or any(
        PINNED_CLASS in _classes(p) for p in table.parents if isinstance(p, Tag)
    )


def _grid(table: Tag):
    """``(column, colspan, cell)`` of every cell, placed as a browser places them: a cell that
    spans rows occupies its columns in the rows below."""
    taken: set[tuple[int, int]] = set()
    for r, row in enumerate(_rows(table)):
        column = 0
        for cell in row:
            while (r, column) in taken:
                column += 1
            rows = max(1, int(cell.get("rowspan", 1) or 1))
            span = max(1, int(cell.get("colspan", 1) or 1))
            taken |= {(r + i, column + j) for i in range(rows) for j in range(span)}
            yield column, span, cell
            column += span


def _lines(cell: Tag) -> list[str]:
    """The cell's text, line by line (``<br>`` breaks a line)."""
    parts = []
    for node in cell.descendants:
        if isinstance(node, NavigableString):
            parts.append(str(node))
        elif node.name == "br":
            parts.append("\n")
    return [" ".join(line.split()) for line in "".join(parts).split("\n")]


def table_estimate(table: Tag) -> tuple[int, float]:
    """The table's column count and its estimated rendered width in pixels (see the module
    docstring): output tables (no wrapping) by their longest cell lines, text tables
    (wrapping) by their longest words."""
    output = _in_output(table) or "dataframe" in _classes(table)
    font, padding = (OUTPUT_FONT, OUTPUT_PADDING) if output else (TEXT_FONT, TEXT_PADDING)
    widths: dict[int, int] = {}
    n_columns = 0
    for column, span, cell in _grid(table):
        if output:
            chars = max((len(line) for line in _lines(cell)), default=0)
        else:  # inline code in a text table wraps anywhere (custom.css)
            text = cell.get_text(" ", strip=True)
            code = " ".join(c.get_text(" ", strip=True) for c in cell.find_all("code"))
            words = [len(w) for w in text.split() if w not in code.split()]
            words += [min(len(w), CODE_CHARS) for w in code.split()]
            chars = max(words, default=0)
        if span == 1:
            widths[column] = max(widths.get(column, 0), chars)
        n_columns = max(n_columns, column + span)
    width = sum(chars * CHAR_EM * font + padding for chars in widths.values())
    width += padding * (n_columns - len(widths))  # columns only spanned over
    return n_columns, width


# ----------------------------------------------------------------------------- images
def image_width(data: bytes) -> int | None:
    """Intrinsic width in pixels of a PNG, GIF, JPEG or SVG image; None if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">I", data[16:20])[0]
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<H", data[6:8])[0]
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return struct.unpack(">H", data[i + 7 : i + 9])[0]
            i += 2 + length
        return None
    head = data[:2048].decode("utf-8", "ignore")
    if "<svg" in head:
        svg = BeautifulSoup(head + "</svg>", "html.parser").find("svg")
        m = re.fullmatch(r"\s*([\d.]+)\s*(px|pt)?\s*", str(svg.get("width", "")))
        if m:
            return round(float(m[1]) * (4 / 3 if m[2] == "pt" else 1))
        view = str(svg.get("viewbox", "")).replace(",", " ").split()
        if len(view) == 4:
            return round(float(view[2]))
    return None


def _image_bytes(src: str, page: Path) -> bytes | None:
    if src.startswith("data:"):
        header, _, payload = src.partition(",")
        if header.endswith(";base64"):
            return base64.b64decode(payload)
        return unquote(payload).encode("utf-8")
    parsed = urlparse(src)
    if parsed.scheme or parsed.netloc:
        return None
    path = (page.parent / unquote(parsed.path)).resolve()
    return path.read_bytes() if path.is_file() else None


# ----------------------------------------------------------------------------- the checker
def machine_paths(build: Path) -> list[str]:
    """Absolute paths that name this machine: the repository's and the build's repository."""
    paths = {str(REPO), str(build.resolve().parent.parent)}
    return sorted(p for p in paths if p not in ("/", ""))


def check_page(
    html: str, page: str, path: Path | None = None, own_paths: list[str] = ()
) -> list[Problem]:
    """Every problem of one page. ``path``: the page's file (resolves images and links);
    ``own_paths``: absolute paths of the build machine that must appear nowhere."""
    soup = BeautifulSoup(html, "html.parser")
    article = soup.select_one("article.bd-article") or soup.find("main") or soup.body or soup
    problems: list[Problem] = []

    def problem(kind: str, element: str, detail: str) -> None:
        problems.append(Problem(page, kind, element, detail))

    tables = [t for t in article.find_all("table") if "highlighttable" not in _classes(t)]
    for index, table in enumerate(tables, 1):
        label = _describe_table(table, index)
        cells = [c for row in _rows(table) for c in row]
        dots = [c for c in cells if c.get_text(strip=True) in ELLIPSIS]
        cut = [
            c
            for c in cells
            if (_in_output(table) or "dataframe" in _classes(table))
            and c.get_text(strip=True).endswith(("...", "…"))
            and c.get_text(strip=True) not in ELLIPSIS
        ]
        if cut:
            problem(
                "truncated",
                label,
                f"{len(cut)} cell texts cut short by pandas (display.max_colwidth), e.g. "
                f'"{_short(cut[0].get_text(strip=True), 50)}"',
            )
        if dots:
            footer = table.find_next_sibling(
                lambda t: t.name in ("p", "div") and HTML_FOOTER.match(t.get_text(strip=True))
            )
            detail = f"{len(dots)} '...' cells (pandas left rows or columns out)"
            if footer is not None:
                detail += f', footer "{footer.get_text(strip=True)}"'
            problem("truncated", label, detail)
        n_columns, width = table_estimate(table)
        if not _pinned(table) and (n_columns > MAX_COLUMNS or width > CONTENT_WIDTH):
            problem(
                "wide table",
                label,
                f"{n_columns} columns, about {width:.0f} px wide (column: {CONTENT_WIDTH} px, "
                f"at most {MAX_COLUMNS} columns); wrap it in class '{PINNED_CLASS}' or narrow it",
            )
        for cell in cells:
            text = cell.get_text(" ", strip=True)
            found = SCIENTIFIC.search(text)
            if found:
                problem("scientific notation", label, f'cell "{_short(text, 40)}": {found[0]}')

    for pre in article.find_all("pre"):
        if _in_output(pre):
            found = TEXT_FOOTER.search(pre.get_text())
            if found:
                problem("truncated", "text output", f"{found[0]} (a truncated dataframe repr)")
            found = DISPLAY_REPR.search(pre.get_text())
            if found:
                where = _heading_before(pre) or "the top"
                problem("object repr", f"output under {where!r}", f"{found[0]} shown as text")

    for index, img in enumerate(article.find_all("img"), 1):
        src = str(img.get("src", ""))
        data = _image_bytes(src, path) if (path is not None or src.startswith("data:")) else None
        width = image_width(data) if data else None
        if width is not None and width > MAX_IMAGE_WIDTH:
            name = "data: URI" if src.startswith("data:") else _short(src, 60)
            where = _heading_before(img)
            element = f"image {index} ({name})" + (f' under "{_short(where, 50)}"' if where else "")
            problem(
                "large image",
                element,
                f"{width} px wide, more than {MAX_IMAGE_WIDTH:.0f} px (2.2 x {CONTENT_WIDTH})",
            )

    body = soup.body or soup
    for text in body.find_all(string=True):
        if not isinstance(text, NavigableString) or text.parent.name in ("script", "style"):
            continue
        value = str(text)
        for own in own_paths:
            if own in value:
                problem("machine path", f"<{text.parent.name}>", f'"{_short(value, 80)}"')
                break
        else:
            if article in text.parents and not _authored_code(text):
                found = MACHINE_PATH.search(value)
                if found:
                    problem(
                        "machine path",
                        f'<{text.parent.name}> under "{_short(_heading_before(text.parent), 40)}"',
                        f'{found[0]!r} in "{_short(value, 80)}"',
                    )
    for el in soup.find_all(["a", "img", "script", "link"]):
        for attr in ("href", "src"):
            value = str(el.get(attr, ""))
            if value.startswith("file:") or any(own in value for own in own_paths):
                problem("machine path", f"<{el.name} {attr}>", value)

    for script in soup.find_all("script", src=True):
        host = urlparse(str(script["src"])).netloc.lower()
        if any(host == cdn or host.endswith("." + cdn) for cdn in CDN_HOSTS):
            what = "MathJax" if "mathjax" in script["src"].lower() else "a script"
            problem("CDN", "<script>", f"{what} from a CDN: {script['src']}")

    if path is not None:
        for el in soup.find_all(["a", "img", "script", "link"]):
            for attr in ("href", "src"):
                value = el.get(attr)
                if not value:
                    continue
                parsed = urlparse(str(value))
                if parsed.scheme or parsed.netloc or not parsed.path:
                    continue
                target = (path.parent / unquote(parsed.path)).resolve()
                if not target.exists():
                    text = el.get_text(" ", strip=True) if el.name == "a" else el.name
                    problem("broken link", f'<{el.name}> "{_short(text, 40)}"', str(value))
    return problems


def pages(build: Path) -> list[Path]:
    return sorted(
        p
        for p in build.rglob("*.html")
        if not set(p.relative_to(build).parts[:1]) & set(SKIPPED_FOLDERS)
    )


def check_build(build: Path) -> list[Problem]:
    own = machine_paths(build)
    problems = []
    for path in pages(build):
        page = str(path.relative_to(build))
        problems += check_page(path.read_text("utf-8"), page, path, own)
    return problems


# ----------------------------------------------------------------------------- the built book
@pytest.fixture(scope="module")
def book_problems() -> list[Problem]:
    if not (BUILD / "index.html").exists():
        message = f"no built book at {BUILD}: run `make book` first"
        if REQUIRED:
            pytest.fail(message + " (make check-book checks a build)")
        pytest.skip(message + " (`make check-book` checks a build and fails without one)")
    return check_build(BUILD)


def _report(problems: list[Problem], kind: str) -> None:
    found = [p for p in problems if p.kind == kind]
    lines = [str(p) for p in found[:80]]
    if len(found) > 80:
        lines.append(f"... and {len(found) - 80} more")
    assert not found, f"{len(found)} pages/elements with {kind}:\n" + "\n".join(lines)


def test_no_truncated_dataframes(book_problems):
    _report(book_problems, "truncated")


def test_no_table_wider_than_the_content_column(book_problems):
    _report(book_problems, "wide table")


def test_no_oversized_images(book_problems):
    _report(book_problems, "large image")


def test_no_scientific_notation_in_tables(book_problems):
    _report(book_problems, "scientific notation")


def test_no_paths_of_the_build_machine(book_problems):
    _report(book_problems, "machine path")


def test_no_scripts_from_a_cdn(book_problems):
    _report(book_problems, "CDN")


def test_no_broken_local_links(book_problems):
    _report(book_problems, "broken link")


def test_no_object_shown_as_its_repr(book_problems):
    _report(book_problems, "object repr")


def test_every_page_was_checked():
    if not (BUILD / "index.html").exists():
        if REQUIRED:
            pytest.fail(f"no built book at {BUILD}: run `make book` first")
        pytest.skip(f"no built book at {BUILD}")
    assert len(pages(BUILD)) >= 10, f"only {len(pages(BUILD))} pages under {BUILD}"


# ----------------------------------------------------------------------------- the checker itself
def _page(body: str, head: str = "") -> str:
    return (
        f"<html><head>{head}</head><body><main><article class='bd-article'>"
        f"{body}</article></main></body></html>"
    )


def _kinds(body: str, head: str = "", **kwargs) -> list[str]:
    return [p.kind for p in check_page(_page(body, head), "page.html", **kwargs)]


def _png(width: int, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _output(html: str) -> str:
    return f"<div class='cell_output docutils container'><div class='output text_html'>{html}</div></div>"


def test_checker_finds_a_truncated_pandas_table():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({f"c{i}": range(100) for i in range(30)})
    with pd.option_context("display.max_rows", 10, "display.max_columns", 8):
        truncated = frame._repr_html_()
        text = repr(frame)
    assert "truncated" in _kinds(_output(truncated))
    assert "truncated" in _kinds(_output(f"<pre>{text}</pre>"))
    problem = next(
        p for p in check_page(_page(_output(truncated)), "p.html") if p.kind == "truncated"
    )
    assert "100 rows × 30 columns" in problem.detail  # the footer is named
    small = frame.iloc[:5, :4]
    assert "truncated" not in _kinds(_output(small._repr_html_()))
    words = pd.DataFrame({"pairs": ["FLOW-LINEAR > 3DCNNST; " * 5]})
    with pd.option_context("display.max_colwidth", 40):
        assert "truncated" in _kinds(_output(words._repr_html_()))
    with pd.option_context("display.max_colwidth", None):
        assert "truncated" not in _kinds(_output(words._repr_html_()))
    assert "truncated" not in _kinds(_output(f"<pre>{small!r}</pre>"))


def test_checker_finds_wide_tables_unless_their_first_column_is_pinned():
    def table(columns: int, text: str = "0.51") -> str:
        head = "".join(f"<th>col {i}</th>" for i in range(columns))
        row = "".join(f"<td>{text}</td>" for _ in range(columns))
        return f"<table class='dataframe'><thead><tr>{head}</tr></thead><tr>{row}</tr></table>"

    assert "wide table" not in _kinds(_output(table(9)))
    assert "wide table" in _kinds(_output(table(10)))  # too many columns, however narrow
    long = "MER-DACWB3DCNNST 0.512 [0.401, 0.623]"  # 36 characters: 329 px
    assert "wide table" in _kinds(_output(table(3, long)))  # 3 cells that do not wrap
    assert "wide table" not in _kinds(_output(table(2, long)))
    pinned = f"<div class='{PINNED_CLASS}'>{table(14, long)}</div>"
    assert "wide table" not in _kinds(_output(pinned))
    assert "wide table" not in _kinds(_output(table(14).replace("dataframe", PINNED_CLASS)))
    # A table of the text wraps: long prose cells are fine, long unbreakable words are not.
    prose = "a sentence of ordinary words that the browser wraps inside its cell " * 3
    text_table = f"<table><tr><td>{prose}</td><td>{prose}</td><td>{prose}</td></tr></table>"
    assert "wide table" not in _kinds(text_table)
    words = " ".join(["x" * 40] * 3)
    wide_words = f"<table><tr><td>{words}</td><td>{words}</td><td>{words}</td></tr></table>"
    assert "wide table" in _kinds(wide_words)
    path = "<code>" + "CASME2_RAW_selected/subNN/img" * 2 + "</code>"  # inline code wraps
    code_table = f"<table><tr><td>{path}</td><td>{path}</td><td>{path}</td></tr></table>"
    assert "wide table" not in _kinds(code_table)


def test_checker_estimates_widths_from_the_text():
    soup = BeautifulSoup(_output("<table><tr><th>ab</th><td>abcd</td></tr></table>"), "html.parser")
    n, width = table_estimate(soup.find("table"))
    assert n == 2 and width == pytest.approx(6 * CHAR_EM * OUTPUT_FONT + 2 * OUTPUT_PADDING)
    spanned = "<table><tr><th colspan='3'>a long title over three columns</th></tr>"
    spanned += "<tr><td>1</td><td>2</td><td>3</td></tr></table>"
    n, width = table_estimate(BeautifulSoup(spanned, "html.parser").find("table"))
    assert n == 3 and width < 200  # a spanning cell does not widen one column
    rows = "<tr><th rowspan='2'>CASME II</th><td>paper</td><td>" + "x" * 40 + "</td></tr>"
    rows += "<tr><td>kfold</td><td>" + "y" * 40 + "</td></tr>"  # placed under columns 2 and 3
    soup = BeautifulSoup(_output(f"<table>{rows}</table>"), "html.parser")
    n, width = table_estimate(soup.find("table"))
    assert n == 3
    assert width == pytest.approx((8 + 5 + 40) * CHAR_EM * OUTPUT_FONT + 3 * OUTPUT_PADDING)
    lines = _output("<table><tr><td>first line<br>a second, longer line</td></tr></table>")
    n, width = table_estimate(BeautifulSoup(lines, "html.parser").find("table"))
    assert width == pytest.approx(21 * CHAR_EM * OUTPUT_FONT + OUTPUT_PADDING)  # longest line


def test_checker_reads_image_widths(tmp_path):
    assert image_width(_png(2000)) == 2000
    cv2 = pytest.importorskip("cv2")
    np = pytest.importorskip("numpy")
    ok, jpeg = cv2.imencode(".jpg", np.zeros((2, 1900, 3), np.uint8))
    assert ok and image_width(jpeg.tobytes()) == 1900
    assert (
        image_width(b'<svg xmlns="http://www.w3.org/2000/svg" width="720pt" height="1pt">') == 960
    )
    assert image_width(b"GIF89a" + struct.pack("<HH", 1800, 1)) == 1800
    wide = base64.b64encode(_png(1800)).decode()
    fine = base64.b64encode(_png(1700)).decode()
    assert "large image" in _kinds(f"<img src='data:image/png;base64,{wide}'>")
    assert "large image" not in _kinds(f"<img src='data:image/png;base64,{fine}'>")
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "fig.png").write_bytes(_png(2400))
    page = tmp_path / "book" / "page.html"
    page.parent.mkdir()
    html = _page("<img src='../_images/fig.png' alt='a figure'>")
    problems = check_page(html, "book/page.html", page)
    assert [p.kind for p in problems] == ["large image"] and "2400 px" in problems[0].detail


def test_checker_finds_scientific_notation_in_table_cells_only():
    assert "scientific notation" in _kinds("<table><tr><td>-1.300e-03</td></tr></table>")
    assert "scientific notation" in _kinds("<table><tr><td>p = 2E+05</td></tr></table>")
    assert "scientific notation" not in _kinds("<p>a learning rate of 1e-3</p>")
    for fine in ("MER-3DCNNST", "0.0013", "s2e3a", "EP02_01f", "1.5", "3e"):
        assert "scientific notation" not in _kinds(f"<table><tr><td>{fine}</td></tr></table>")


def test_checker_finds_paths_of_the_build_machine():
    own = ["/srv/build/mer-repo"]
    printed = _output("<pre>saved to /tmp/tmpab12/fig.png</pre>")
    assert "machine path" in _kinds(printed, own_paths=own)
    assert "machine path" in _kinds("<table><tr><td>/home/alice/data/SAMM</td></tr></table>")
    assert "machine path" in _kinds("<p>folder /root/datasets</p>")
    warning = _output("<pre>/opt/py/lib/python3.11/site-packages/keras/x.py:12: UserWarning</pre>")
    assert "machine path" in _kinds(warning)
    # The repository's path is found anywhere, authored code included, and in links.
    assert "machine path" in _kinds("<pre>cd /srv/build/mer-repo</pre>", own_paths=own)
    assert "machine path" in _kinds("<a href='file:///srv/x.html'>x</a>", own_paths=own)
    # Examples the authors wrote may name /tmp; URLs and relative paths are not machine paths.
    example = "<div class='highlight-bash'><pre>papermill a.ipynb /tmp/out.ipynb</pre></div>"
    assert "machine path" not in _kinds(example, own_paths=own)
    assert "machine path" not in _kinds("<p>writes only under <code>/tmp</code></p>")
    notebook_input = "<div class='cell_input'><pre>out = '/tmp/x'</pre></div>"
    assert "machine path" not in _kinds(notebook_input)
    assert "machine path" in _kinds("<table><tr><td>/srv/data/SAMM/x.xlsx</td></tr></table>")
    fine_texts = ("https://example.org/tmp/x", "data/standins/casme2", "~/tmpfile", "a/root/b")
    fine_texts += ("negative / positive / surprise", "and/or", "1/25 to 1/2 s", "a /32 mask")
    for fine in fine_texts:
        assert "machine path" not in _kinds(f"<p>{fine}</p>"), fine


def test_checker_finds_scripts_from_a_cdn():
    cdn = (
        "<script defer src='https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js'></script>"
    )
    problems = check_page(_page("", head=cdn), "p.html")
    assert [p.kind for p in problems] == ["CDN"] and "MathJax" in problems[0].detail
    unpkg = "<script src='https://unpkg.com/x@1/x.js'></script>"
    assert _kinds("", head=unpkg) == ["CDN"]
    assert _kinds("", head="<script src='../_static/mathjax/tex-chtml.js'></script>") == []


def test_checker_finds_broken_local_links(tmp_path):
    (tmp_path / "_downloads" / "abc").mkdir(parents=True)
    (tmp_path / "_downloads" / "abc" / "metrics.csv").write_text("a\n1\n")
    page = tmp_path / "book" / "page.html"
    page.parent.mkdir()
    html = _page(
        "<a class='reference download' href='../_downloads/abc/metrics.csv'>metrics.csv</a>"
        "<a href='#section'>here</a><a href='https://example.org/x'>there</a>"
    )
    assert check_page(html, "book/page.html", page) == []
    missing = html.replace("abc/metrics.csv", "abc/predictions.zip")
    problems = check_page(missing, "book/page.html", page)
    assert [p.kind for p in problems] == ["broken link"]
    assert "predictions.zip" in problems[0].detail


def test_machine_paths_name_the_repository(tmp_path):
    paths = machine_paths(tmp_path / "_build" / "html")
    assert str(REPO) in paths and str(tmp_path) in paths


def test_report_tables_wrap_prose_but_keep_numbers_on_one_line():
    import pandas as pd

    from mer_utils.report.style import table

    frame = pd.DataFrame(
        {
            "UF1": ["0.24 [0.22, 0.26]"],
            "p": ["0.003"],
            "epoch chosen by": ["validation on other subjects, 100 runs"],
        }
    )
    shown = table(frame).data
    # a score and its interval may go on two lines where the column is short of room; the
    # interval itself never breaks
    assert '<td class="interval">0.24 [0.22,&nbsp;0.26]</td>' in shown
    assert '<td class="nowrap">0.003</td>' in shown  # a number never breaks
    assert "<td>validation on other subjects, 100 runs</td>" in shown  # prose wraps
    css = (Path(__file__).parents[1] / "book" / "_static" / "custom.css").read_text()
    assert re.search(r"table\.dataframe\.mer td \{\s*white-space: normal", css)
    assert re.search(r"table\.dataframe\.mer td\.nowrap \{\s*white-space: nowrap", css)


def test_checker_finds_an_object_shown_as_its_repr():
    shown = "<div class='cell_output'><pre>&lt;IPython.core.display.Markdown object&gt;</pre></div>"
    assert "object repr" in _kinds(shown)
    figure = "<div class='output'><pre>&lt;matplotlib.figure.Figure at 0x7f00&gt;</pre></div>"
    assert "object repr" in _kinds(figure)
    assert "object repr" not in _kinds(
        "<div class='cell_output'><pre>0.51 [0.40, 0.62]</pre></div>"
    )
