"""Student text made inert for each place the grader writes it: Markdown, CSV and terminals.

Everything a notebook controls is hostile text: error names and values, cell sources, layer,
metric and notebook names, messages built from them, and student names from an LMS export. A
Markdown viewer (GitHub, Jupyter, VS Code) must show it as text, never as HTML, a link, an
image, a heading or a table row; a spreadsheet must never run it as a formula; a terminal must
never take it as a colour, a link or a cursor movement. HTML reports need nothing from here:
Jinja2 escapes them (``report.html.j2``, ``class_report.html.j2``).
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

T = t.TypeVar("T")

REPLACEMENT = "\ufffd"
"""What a control character becomes: visible, and inert everywhere."""

# C0 controls except tab and newline, DEL, C1 controls (CSI, OSC... in 8-bit form), and the
# Unicode controls that reorder or hide text on screen (bidirectional overrides and isolates).
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
# Terminal escape sequences (colours, cursor moves) as IPython and Keras put them in errors.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Inline Markdown (CommonMark, GitHub's extensions, Jupyter's math) that needs a backslash to
# stay literal: emphasis, code, links and images, tables, strikethrough, math, escapes.
_MARKDOWN_INLINE = re.compile(r"([\\`*\[\]!|~$])")
# An underscore between two letters or digits never opens or closes emphasis: `max_epochs`
# stays readable in the Markdown source.
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# What starts a block when it opens a line: heading, list item, thematic break, setext
# underline; `>`, `|`, `*`, `_`, `~` and backticks are escaped anywhere already.
_MARKDOWN_LINE_START = re.compile(r"^\s*(?:[#+=-]|\d{1,9}[.)](?=\s|$))")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP's list)."""


def printable(text: object) -> str:
    """``text`` with control characters replaced by U+FFFD; newlines and tabs are kept.

    Args:
        text: any value; it is converted with ``str``.

    Returns:
        Text that moves no cursor, sets no colour, opens no terminal link and reorders nothing
        when printed: escape sequences lose their ESC, a carriage return cannot overwrite the
        line before it.
    """
    return _CONTROLS.sub(REPLACEMENT, str(text).replace("\r\n", "\n"))


def printable_copy(value: T) -> T:
    """A copy of ``value`` with every string in it made :func:`printable`, dictionary keys too.

    Walks dataclasses, dictionaries, lists and tuples; other values are kept as they are. The
    terminal reports print from such a copy of a result, so no field can be forgotten.

    Args:
        value: e.g. a :class:`~grader.results.GradeResult`.

    Returns:
        A value of the same type.
    """
    if isinstance(value, str):
        return t.cast(T, printable(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: printable_copy(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.init
        }
        return t.cast(T, dataclasses.replace(value, **changes))
    if isinstance(value, dict):
        return t.cast(T, {printable_copy(k): printable_copy(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return t.cast(T, type(value)(printable_copy(v) for v in value))
    return value


def markdown_text(text: object) -> str:
    """Free text as one line of inert Markdown, for a paragraph, a list item or a table cell.

    ``<``, ``>`` and ``&`` become HTML entities (so no tag, comment or entity is ever raw),
    Markdown's inline markup is backslash-escaped, a leading block marker (``#``, ``-``, ``+``,
    ``=``, ``1.``) is escaped, line breaks become ``<br>`` and control characters U+FFFD. Every
    viewer shows the original text; none renders HTML, a link, an image, a heading, a list or a
    new table row from it. Spaces are kept as they are.

    Args:
        text: any value; it is converted with ``str``.

    Returns:
        The escaped text, without a line break.
    """
    lines = printable(text).strip("\n").split("\n")
    return "<br>".join(_escape_line(line) for line in lines)


def _escape_line(line: str) -> str:
    line = "".join(_HTML.get(ch, ch) for ch in line)
    line = _MARKDOWN_INLINE.sub(r"\\\1", line)
    line = _LOOSE_UNDERSCORE.sub(r"\\_", line)
    # "#", "-", "+" or "=" opening the text, or the "." or ")" of "1." or "1)", would start a
    # block where the text opens a line; escaped, they are plain characters.
    match = _MARKDOWN_LINE_START.match(line)
    if match:
        at = match.end() - 1
        line = f"{line[:at]}\\{line[at:]}"
    return line


def markdown_code(text: object) -> str:
    """Text as an inline code span, shown verbatim on one line.

    The span's backtick delimiters are longer than any run of backticks inside, so nothing can
    close it early; line breaks and tabs become spaces, control characters U+FFFD, and ``|``
    becomes ``\\|``, which GitHub's tables need even inside code (outside a table the
    backslash shows).

    Args:
        text: any value; it is converted with ``str``.

    Returns:
        The code span; empty for empty text.
    """
    body = printable(text).replace("\n", " ").replace("\t", " ").replace("|", "\\|")
    if not body.strip():
        return ""
    longest = max((len(run) for run in re.findall("`+", body)), default=0)
    ticks = "`" * (longest + 1)
    # A span that starts or ends with a backtick needs a space inside its delimiters; one space
    # each side is stripped by every CommonMark viewer.
    pad = " " if body[0] in "` " or body[-1] in "` " else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


def markdown_fence(text: object, info: str = "") -> str:
    """Text as a fenced code block: shown verbatim, whatever it holds.

    The fence is longer than any run of backticks in the text, so nothing inside can close it;
    control characters become U+FFFD.

    Args:
        text: the code or output; it is converted with ``str``.
        info: the info string (language), e.g. ``python``; the grader's own, never a student's.

    Returns:
        The fenced block, without a trailing newline.
    """
    body = printable(text).rstrip()
    longest = max((len(run) for run in re.findall("`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def csv_text(value: object) -> str:
    """A text cell for a CSV file that a spreadsheet will show, never evaluate.

    A cell whose first character (or first after white space) starts a formula gets a leading
    ``'``, which
    spreadsheets read as "text" and do not display; control characters become U+FFFD. Apply it
    to text only: numbers the grader writes stay numbers.

    Args:
        value: the cell; it is converted with ``str``.

    Returns:
        The neutralised text.
    """
    text = str(value)
    if text.lstrip().startswith(CSV_FORMULA_STARTS[:4]) or text.startswith(CSV_FORMULA_STARTS):
        text = "'" + text
    return _CONTROLS.sub(REPLACEMENT, text.replace("\r\n", "\n")) if text else text


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes, which IPython puts in every traceback and some libraries
    in their error messages.

    Example:
        >>> strip_ansi("\x1b[0;31mValueError\x1b[0m: bad")
        'ValueError: bad'
    """
    return _ANSI.sub("", text)
