"""Sphinx extension of this book (``sphinx.local_extensions`` in ``_config.yml``).

**Repository links from the build's environment.** The repository's URL is not written in the
repository: the publishing workflow passes it from the CI context
(``BOOK_REPOSITORY_URL=${{ github.server_url }}/${{ github.repository }}``, and
``BOOK_REPOSITORY_BRANCH=${{ github.ref_name }}``) through ``make book``. With it, every page gets
the theme's repository, "suggest edit" and "open issue" buttons; the edit link of a page the
runner executed (``book/datasets/...``, ``book/summary/...``: not files of the repository) opens
its notebook template in ``notebooks/`` instead. Without it (a local ``make book``) no URL is
invented: the buttons stay off and every page links the repository's README, which the book
renders (``book/readme.md``).

**Launch buttons** (Binder, Colab) when the build is also handed ``BOOK_LAUNCH_BRANCH``: the
branch the publishing workflow wrote with ``python -m mer_utils.build.launch`` (the built commit plus
every executed per-dataset page with its launch cell). The theme forms the buttons from the
repository's branch; they are pointed at the launch branch, and shown on the per-dataset pages
only (the summary pages read the records of a whole run and are not on that branch).

**Bibliography.** ``book/references.bib`` is cited with ``{cite:p}`` / ``{cite:t}``, author-year
(the referencing style ``mer_author_year``); the list on the references page is labelled the
same way ("Irawan et al. 2024") and sorted by first author and year (the pybtex style ``mer``).
BibTeX's "and others" reads "et al." in both.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from pybtex.plugin import register_plugin
from pybtex.richtext import Tag, Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from pybtex.style.template import (
    FieldIsMissing,
    field,
    first_of,
    join,
    node,
    optional,
    sentence,
    tag,
)
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinxcontrib.bibtex.plugin import register_plugin as register_cite_plugin
from sphinxcontrib.bibtex.style.referencing import BracketStyle, PersonStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from sphinxcontrib.bibtex.style.template import join as cite_join

log = logging.getLogger(__name__)

URL_ENV = "BOOK_REPOSITORY_URL"
BRANCH_ENV = "BOOK_REPOSITORY_BRANCH"
LAUNCH_ENV = "BOOK_LAUNCH_BRANCH"
LAUNCH_PAGES = "book/datasets/"
"""The pages the launch branch holds (with their launch cell)."""
LAUNCH_SERVICES = {
    "binderhub_url": "https://mybinder.org",
    "colab_url": "https://colab.research.google.com",
    "notebook_interface": "classic",
}
DEFAULT_BRANCH = "main"
README_PAGE = "book/readme"
"""The page that renders the repository's README.md (linked when no URL is known)."""
GENERATED = ("book/datasets/", "book/summary/")
"""Pages the runner executes from notebook templates: their source is not in the repository."""
MANIFEST = Path("book/results/manifest.json")


def repository_url() -> str:
    """The repository URL handed to this build, or "" (then no repository link is made)."""
    url = os.environ.get(URL_ENV, "").strip().rstrip("/")
    if url.endswith(".git"):
        url = url[: -len(".git")]
    if url and urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"{URL_ENV}={url!r}: expected an http(s) URL of the repository")
    bad = sorted({c for c in url if c in UNSAFE or not c.isprintable() or c.isspace()})
    if bad:  # it lands in every page's links: no quote, bracket or space may end an attribute
        raise ValueError(f"{URL_ENV}={url!r}: characters {bad} do not belong in a repository URL")
    return url


UNSAFE = set("\"'<>`{}|\\^")
"""Characters a repository URL never needs and an HTML attribute or a template must not get."""


def repository_branch() -> str:
    """The branch handed to this build (default ``main``), percent-encoded for a URL: a branch
    name may hold characters (a quote, ``<``) that must not reach a page's HTML as they are."""
    return quote(os.environ.get(BRANCH_ENV, "").strip() or DEFAULT_BRANCH, safe="/")


def _provider(url: str) -> str:
    host = urlparse(url).netloc.lower()
    for name in ("gitlab", "bitbucket"):
        if name in host:
            return name
    return "github"  # the publishing workflow runs on GitHub (github.com or GitHub Enterprise)


def configure_repository(app: Sphinx, config) -> None:
    """``config-inited``: switch the repository buttons on or off from the environment."""
    url = repository_url()
    opts = dict(config.html_theme_options or {})
    buttons = ("use_repository_button", "use_edit_page_button", "use_issues_button")
    if url:
        opts.update(
            repository_url=url,
            repository_branch=repository_branch(),
            repository_provider=_provider(url),
            path_to_docs="",
            **dict.fromkeys(buttons, True),
        )
        if os.environ.get(LAUNCH_ENV, "").strip():
            opts["launch_buttons"] = dict(LAUNCH_SERVICES)
        # Resolved per page in edit_url(): the page's own source, or its template.
        config.html_context = {
            **(config.html_context or {}),
            "edit_page_url_template": "{{ mer_edit_url or file_name }}",
            "edit_page_provider_name": _provider(url).capitalize(),
        }
        log.info("[mer_book] repository buttons link %s", url)
    else:
        # Jupyter Book fills repository_url with its own default (the jupyter-book project):
        # drop it, so that nothing on a page points to a repository that is not this one.
        for key in ("repository_url", "repository_branch", "path_to_docs"):
            opts.pop(key, None)
        opts.update(dict.fromkeys(buttons, False))
        opts.pop("launch_buttons", None)
        log.info("[mer_book] %s not set: pages link the README instead of a repository", URL_ENV)
    config.html_theme_options = opts


def templates(srcdir: Path) -> dict[str, str]:
    """Executed page (docname) -> its notebook template, from the runner's grid (or, when
    mer_utils cannot be imported, from the latest run's manifest)."""
    try:
        from mer_utils.build import grid

        jobs = [(j.output, j.template) for j in grid.full_grid()]
    except Exception:  # noqa: BLE001 - the manifest is a complete fallback
        path = srcdir / MANIFEST
        if not path.exists():
            return {}
        pages = json.loads(path.read_text())["pages"]
        jobs = [(p["output"], p["template"]) for p in pages]
    return {str(Path(output).with_suffix("")): str(template) for output, template in jobs}


def edit_url(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """``html-page-context``, before the theme makes its buttons: the "suggest edit" target of
    the page, its own source or, for a page the runner executed, its notebook template."""
    url = repository_url()
    if not url:
        return
    branch = app.config.html_theme_options.get("repository_branch") or DEFAULT_BRANCH
    if pagename.startswith(GENERATED):
        # A page without a known template has no file to edit: the templates' folder.
        source = app.env.mer_templates.get(pagename) or "notebooks"
    else:
        source = f"{pagename}{context.get('page_source_suffix', '')}"
    context["mer_edit_url"] = edit_link(url, branch, source)


def launch_link(url: str, branch: str, launch: str) -> str:
    """A Binder or Colab address the theme made for ``branch``, pointed at ``launch``."""
    for before, after in (
        (f"/{branch}?urlpath=", f"/{launch}?urlpath="),  # Binder
        (f"/blob/{branch}/", f"/blob/{launch}/"),  # Colab
    ):
        if before in url:
            return url.replace(before, after, 1)
    return url


def launch_targets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """``html-page-context``, after the theme made its launch buttons: point them at the launch
    branch; drop them from pages that branch does not hold."""
    buttons = context.get("header_buttons") or []
    group = next((b for b in buttons if b.get("label") == "launch-buttons"), None)
    if group is None:
        return
    launch = os.environ.get(LAUNCH_ENV, "").strip()
    if not launch or not pagename.startswith(LAUNCH_PAGES):
        buttons.remove(group)
        return
    branch = app.config.html_theme_options.get("repository_branch") or DEFAULT_BRANCH
    for button in group["buttons"]:
        if button.get("url"):
            button["url"] = launch_link(button["url"], branch, launch)


def edit_link(url: str, branch: str, path: str) -> str:
    """The web editor's address of ``path`` on ``branch`` (a folder: its listing)."""
    provider = _provider(url)
    branch, path = quote(unquote(branch), safe="/"), quote(path, safe="/")
    if provider == "gitlab":
        return f"{url}/-/{'tree' if '.' not in path else 'edit'}/{branch}/{path}"
    if provider == "bitbucket":
        return f"{url}/src/{branch}/{path}" + ("?mode=edit" if "." in path else "")
    return f"{url}/{'tree' if '.' not in path else 'edit'}/{branch}/{path}"


def readme_button(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """``html-page-context``, after the theme prepared its buttons: without a repository URL,
    a header button to the README page."""
    if repository_url() or "header_buttons" not in context:
        return
    if README_PAGE in app.env.found_docs:
        context["header_buttons"].append(
            {
                "type": "link",
                "url": context["pathto"](README_PAGE),
                "tooltip": "README of the repository this book was built from",
                "icon": "fas fa-book-open",
                "text": "README",
                "label": "readme-button",
            }
        )


def remember_templates(app: Sphinx) -> None:
    app.env.mer_templates = templates(Path(app.srcdir))


# ----------------------------------------------------------------------------- bibliography
# BibTeX's "and others" (co-authors not listed) reads "et al." in the list and in the text, as
# in BibTeX's own styles; pybtex and sphinxcontrib-bibtex would print "and others".
def _is_others(person) -> bool:
    return str(person) == "others"


def _shown(persons) -> tuple[list, bool]:
    """The persons to print, and whether "et al." follows them."""
    if persons and _is_others(persons[-1]):
        return list(persons[:-1]), True
    return list(persons), False


@node
def _list_names(children, context, role, **kwargs):
    """pybtex's ``names`` node, with a trailing "others" printed as "et al."."""
    try:
        persons = context["entry"].persons[role]
    except KeyError:
        raise FieldIsMissing(role, context["entry"]) from None
    style = context["style"]
    shown, et_al = _shown(persons)
    text = join(**kwargs)[[style.format_name(p, style.abbreviate_names) for p in shown]]
    text = text.format_data(context)
    return Text(text, " et al.") if et_al else text


@node
def _cite_names(children, data, role, **kwargs):
    """sphinxcontrib-bibtex's ``names`` node, with a trailing "others" printed as "et al."."""
    try:
        persons = data["entry"].persons[role]
    except KeyError:
        raise FieldIsMissing(role, data["entry"]) from None
    person = data["style"].person
    shown, et_al = _shown(persons)
    formatted = [person.style_plugin.format(p, person.abbreviate) for p in shown]
    if et_al:
        return Text(formatted[0].format_data(data), " ", Tag("em", "et al."))
    return cite_join(**kwargs)[formatted].format_data(data)


class BookPersonStyle(PersonStyle):
    def author_or_editor_or_title(self, full: bool):
        other = None if full else self.other
        seps = {"sep": self.sep, "sep2": self.sep2, "last_sep": self.last_sep, "other": other}
        return first_of[
            optional[_cite_names("author", **seps)],
            optional[_cite_names("editor", **seps)],
            tag("em")[field("title")],
        ]


def _round() -> BracketStyle:
    return BracketStyle(left="(", right=")", sep="; ")


@dataclass
class BookReferenceStyle(AuthorYearReferenceStyle):
    """``author_year`` citations in round brackets, "(Irawan et al., 2024)" and "Irawan et al.
    (2024)", several works separated by semicolons; "and others" reads "et al."."""

    person: PersonStyle = dc_field(default_factory=BookPersonStyle)
    bracket_parenthetical: BracketStyle = dc_field(default_factory=_round)
    bracket_textual: BracketStyle = dc_field(default_factory=_round)
    bracket_author: BracketStyle = dc_field(default_factory=_round)
    bracket_label: BracketStyle = dc_field(default_factory=_round)
    bracket_year: BracketStyle = dc_field(default_factory=_round)


def _last_names(person) -> str:
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


class AuthorYearLabels(BaseLabelStyle):
    """Labels "King 2009", "Nadeau and Bengio 2003", "Irawan et al. 2024"."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            persons = entry.persons.get("author") or entry.persons.get("editor") or []
            shown, et_al = _shown(persons)
            names = [_last_names(p) for p in shown]
            if not names:
                who = entry.fields.get("key", entry.key)
            elif len(names) == 1 and not et_al:
                who = names[0]
            elif len(names) == 2 and not et_al:
                who = f"{names[0]} and {names[1]}"
            else:
                who = f"{names[0]} et al."
            yield f"{who} {entry.fields.get('year', 'n.d.')}"


class FirstAuthorYear(BaseSortingStyle):
    """By first author's family name, then year, then title."""

    def sorting_key(self, entry):
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        first = _last_names(persons[0]).lower() if persons else entry.key
        return (first, entry.fields.get("year", ""), entry.fields.get("title", "").lower())


class BookStyle(PlainStyle):
    """pybtex's ``plain`` entries, labelled and sorted by first author and year."""

    default_label_style = AuthorYearLabels
    default_sorting_style = FirstAuthorYear

    def format_names(self, role, as_sentence=True):
        names = _list_names(role, sep=", ", sep2=" and ", last_sep=", and ")
        return sentence[names] if as_sentence else names


def setup(app: Sphinx) -> dict:
    register_plugin("pybtex.style.formatting", "mer", BookStyle)
    register_cite_plugin(
        "sphinxcontrib.bibtex.style.referencing", "mer_author_year", BookReferenceStyle
    )
    app.connect("config-inited", configure_repository)
    app.connect("builder-inited", remember_templates)
    # The theme builds its buttons at priority 500 (an empty list) and 501 (the buttons).
    app.connect("html-page-context", edit_url, priority=499)
    app.connect("html-page-context", readme_button, priority=502)
    app.connect("html-page-context", launch_targets, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
