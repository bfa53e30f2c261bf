"""A griffe extension for the API reference: read ``Example:`` as an ``Examples:`` section.

tocha's docstrings title their doctests ``Example:`` (Google style allows both). griffe's
Google parser only knows ``Examples:``, and renders ``Example:`` as an admonition whose
``>>>`` lines are then read as Markdown, where ``[a]`` followed by ``[b]`` on the next line is a
reference link. As an Examples section they render as code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` section titles to ``Examples:`` before docstrings are parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and "Example:" in obj.docstring.value:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
