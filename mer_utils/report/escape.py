"""Text from a path, a file or the environment, made safe for where a page shows it.

A data folder, a clip or a page name is not the book's own text: a backtick ends a code span,
``<img onerror=...>`` is raw HTML to Markdown, a ``$`` starts mathtext in a matplotlib label.
:func:`code` writes such text as one code span, :func:`text` as literal Markdown text and
:func:`mpl` as literal matplotlib text.
"""

from __future__ import annotations

import re
import string


def printable(value) -> str:
    """``value`` as text, control characters (a newline ending a paragraph) as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))


def code(value) -> str:
    """``value`` as one Markdown code span, whatever backticks it holds (CommonMark: a fence
    longer than any run of backticks inside, padded with a space where one touches it)."""
    body = printable(value)
    fence = "`" * (max((len(r) for r in re.findall(r"`+", body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def text(value) -> str:
    """``value`` as literal Markdown text: every ASCII punctuation character backslash-escaped
    (CommonMark), so no markup, role, directive or HTML can start inside it."""
    return _PUNCTUATION.sub(r"\\\1", printable(value))


def mpl(value) -> str:
    """``value`` as literal matplotlib text: ``$`` escaped (no mathtext)."""
    return printable(value).replace("$", r"\$")
