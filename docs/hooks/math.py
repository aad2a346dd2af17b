"""MkDocs hook: keep ``$...$`` and ``$$...$$`` math away from the Markdown parser.

The pages are written for GitHub, which renders ``$...$`` (inline) and ``$$...$$``
(display) math itself.  Python-Markdown would read the underscores, asterisks and
backslashes inside such formulas as Markdown, so before conversion every formula is
replaced by an alphanumeric placeholder, and after conversion the placeholder is
replaced by the formula in MathJax's delimiters ``\\(...\\)`` / ``\\[...\\]``, HTML-escaped.
Code blocks and code spans are left alone.  No extra package is needed: MkDocs loads
hooks from ``mkdocs.yml`` (``hooks:``), and MathJax is loaded in the browser.
"""

from __future__ import annotations

import html
import re

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![$\w])")

_store: dict[str, tuple[bool, str]] = {}


def _token(display: bool, tex: str) -> str:
    key = f"MATHPLACEHOLDER{len(_store)}X"
    _store[key] = (display, tex)
    return key


def _protect(text: str) -> str:
    """Replace the math of a text without code by placeholders."""
    text = _DISPLAY.sub(lambda m: "\n\n" + _token(True, m.group(1).strip()) + "\n\n", text)
    return _INLINE.sub(lambda m: _token(False, m.group(1)), text)


def _split(text: str, pattern: re.Pattern[str]) -> list[tuple[bool, str]]:
    """Pieces of ``text``: ``(is_code, piece)``."""
    out, pos = [], 0
    for m in pattern.finditer(text):
        out.append((False, text[pos : m.start()]))
        out.append((True, m.group(0)))
        pos = m.end()
    out.append((False, text[pos:]))
    return out


def on_page_markdown(markdown: str, **kwargs) -> str:
    parts = []
    for in_fence, block in _split(markdown, _FENCE):
        if in_fence:
            parts.append(block)
            continue
        for in_span, piece in _split(block, _CODE_SPAN):
            parts.append(piece if in_span else _protect(piece))
    return "".join(parts)


def _restore(key: str) -> str:
    display, tex = _store[key]
    tex = html.escape(tex, quote=False)
    if display:
        return f'<div class="arithmatex">\\[{tex}\\]</div>'
    return f'<span class="arithmatex">\\({tex}\\)</span>'


def on_page_content(html_text: str, **kwargs) -> str:
    html_text = re.sub(r"<p>(MATHPLACEHOLDER\d+X)</p>", lambda m: _restore(m.group(1)), html_text)
    return re.sub(r"MATHPLACEHOLDER\d+X", lambda m: _restore(m.group(0)), html_text)
