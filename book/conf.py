"""Sphinx configuration of the workbook's book (`make book`; book/build.py assembles the source).

The source folder that book/build.py makes mirrors the repository: this file and the pages of
book/, README.md, notebooks/NN_*.ipynb. MyST-NB renders the notebooks with the outputs stored in
them; nothing is executed.
"""
from __future__ import annotations

import posixpath
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

project = "Neural Networks in Practice"
author = "the Neural Networks in Practice contributors"
copyright = author

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_results/*", "**/.ipynb_checkpoints"]

# ---- notebooks: rendered as committed ----------------------------------------------------------
nb_execution_mode = "off"  # the stored outputs as they are; `make verify` is what runs notebooks
nb_merge_streams = True  # one block per cell for stdout (Keras prints in many small pieces)
myst_heading_anchors = 3  # GitHub-style heading slugs: README's links to its own sections

# ---- HTML --------------------------------------------------------------------------------------
# The address README's badges use (a placeholder until the workbook is published, as README says).
repository_url = "https://github.com/nn-in-practice/workbook"
html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "repository_url": repository_url,
    "show_toc_level": 2,  # a lab's sections in the right-hand column
    "home_page_in_toc": True,
    "use_download_button": True,  # the page's .ipynb
}
html_show_sourcelink = False

_NOT_SLUG = re.compile(r"[^\w\- ]")


def github_slug(text: str) -> str:
    """GitHub's heading slug (MyST's default for myst_heading_anchors): lower case, spaces to
    hyphens, punctuation dropped."""
    return _NOT_SLUG.sub("", text.lower().replace(" ", "-"))


class WorkbookLinks(SphinxPostTransform):
    """Resolve, before MyST's resolver (priority 9), two kinds of link it cannot resolve.

    * JupyterLab's heading anchors (`[...](#1.-Look-at-the-data-first)`: the heading text with
      spaces as hyphens). GitHub's slug of that anchor is the slug MyST gave the heading.
    * A link to a file or folder of the repository that is not a page of the book (README's
      `docs/instructors.md`, `labkit/profiles.py`): to it on GitHub, if it exists.

    Any other unresolved link stays for MyST, which warns (and -W fails the build).
    """

    default_priority = 8

    def run(self, **kwargs) -> None:
        env = self.env
        root = self.config.book_repository_root
        std = env.get_domain("std")
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("refdomain") is not None:
                continue
            target, doc = node["reftarget"], node.get("refdoc", env.docname)
            if target in std.labels or target in std.anonlabels:
                continue
            slugs = env.metadata.get(doc, {}).get("myst_slugs", {})
            path = posixpath.normpath(posixpath.join(posixpath.dirname(doc), target))
            if "/" not in target and github_slug(target) in slugs:
                section_id = slugs[github_slug(target)][1]
                page = "" if doc == env.docname else self.app.builder.get_relative_uri(env.docname, doc)
                ref = nodes.reference("", "", internal=True, refuri=f"{page}#{section_id}")
            elif root and not path.startswith("..") and (Path(root) / path).exists():
                kind = "tree" if (Path(root) / path).is_dir() else "blob"
                ref = nodes.reference("", "", internal=False, refuri=f"{repository_url}/{kind}/main/{path}")
            else:
                continue
            ref += node.children
            node.replace_self(ref)


def setup(app):
    # book/build.py passes the repository's folder (-D): the repository links above check it
    app.add_config_value("book_repository_root", "", "env", types=[str])
    app.add_post_transform(WorkbookLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
