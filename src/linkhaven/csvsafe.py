"""CSV files that people open in a spreadsheet: formula cells neutralised, personal exports private.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and some also after a
tab or a carriage return), so a value in a delivery such as `=HYPERLINK("http://...", "x")` would
act on the machine of whoever opens the export. Following OWASP's CSV injection guidance, every text
cell that starts with one of those characters is written with a leading `'`: the spreadsheet shows
it as text, and a person reading the file sees exactly one extra character. Numbers are written as
they are (a negative number is not a formula).

Every CSV linkhaven writes for people goes through `neutralise`, so there is one rule, not copies
of it. Files holding personal information are also created new, readable by their owner only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""The characters OWASP lists as starting a formula in Excel, LibreOffice Calc or Google Sheets."""


def neutralise(value: object) -> object:
    """The value to write in a CSV cell: text starting like a formula gets a leading `'`; None is empty."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralised(row: Iterable[object]) -> list[object]:
    return [neutralise(value) for value in row]


def open_private(path: Path) -> TextIO:
    """A new text file for writing that only its owner can read (mode 0600); FileExistsError if `path` exists.

    Created with `O_CREAT | O_EXCL`: never a file someone else made (or a link to one), and never, not
    even for a moment, readable by others. Open CSV writers on it with `newline=""` semantics (done here).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "w", newline="", encoding="utf-8")
