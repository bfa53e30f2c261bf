"""mkdocs hooks: publish the example scripts the guides link to, and keep those links working.

The guides link to scripts outside ``docs/`` (``../../examples/core/lenet_fashion_mnist.py``)
so they also work when browsing the repository. mkdocs only knows files under ``docs/``, so
``examples/**.py`` is added to the site under ``examples/`` and such links are rewritten to
point there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ("examples",)
_LINK = re.compile(r"\]\(([^)\s]+?\.py)(#[^)]*)?\)")


def on_files(files: Files, config) -> Files:
    for folder in PUBLISHED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            files.append(File(rel, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    docs = Path(config["docs_dir"]).resolve()
    page_dir = (docs / page.file.src_uri).parent

    def fix(match: re.Match) -> str:
        target = (page_dir / match.group(1)).resolve()
        try:
            rel = target.relative_to(ROOT).as_posix()
        except ValueError:
            return match.group(0)
        if target.is_relative_to(docs) or files.get_file_from_path(rel) is None:
            return match.group(0)
        link = os.path.relpath(docs / rel, page_dir).replace(os.sep, "/")
        return f"]({link}{match.group(2) or ''})"

    return _LINK.sub(fix, markdown)
