"""`make book`: book/build.py renders the notebooks, with their stored outputs, into a static site.

Each build runs the command the Makefile's `book` target runs (read with `make -n`: book/build.py
over NOTEBOOKS into build/book), in a folder of tmp_path shaped like the repository. The site is
then checked against the notebooks themselves: a page per lab with the lab's title, the index's
navigation linking every lab in numeric order, the search index, and every image output stored
in a notebook shown on its page from the site's own _images/. The committed notebooks may store
no images yet, so synthetic notebooks with stored PNG outputs go through the same build and the
same checks, which proves the figure check.
"""
from __future__ import annotations

import base64
import html
import json
import re
import shutil
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "book" / "build.py"
LABS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
# What MyST-NB shows of an output that has both one of these and an image (its priority for HTML):
# the image is then not rendered, so not expected on the page.
OVER_IMAGES = ("application/vnd.jupyter.widget-view+json", "application/javascript", "text/html")
# MyST-NB's cell tags that leave a cell's outputs off the page.
REMOVED = {"remove-cell", "remove-output"}


def make_book(root: Path, *make_args: str) -> subprocess.CompletedProcess:
    """Run the command `make book MAKE_ARGS` runs (read with make -n; the set-up is left out) in
    ``root``, a folder shaped like the repository: the site goes to root/build/book/html."""
    for name in (".venv", "pyproject.toml", "requirements.lock", "requirements-gpu.lock", "book", "notebooks"):
        (root / name).symlink_to(REPO / name)
    recipe = subprocess.run(["make", "-n", "-f", str(REPO / "Makefile"), "book", *make_args], cwd=root,
                            capture_output=True, text=True, timeout=60, check=True).stdout
    (command,) = [line for line in recipe.replace("\\\n", " ").splitlines() if "book/build.py" in line]
    return subprocess.run(command, shell=True, cwd=root, capture_output=True, text=True, timeout=600)


def built(root: Path, *make_args: str) -> Path:
    """`make book MAKE_ARGS` in root (asserting that it builds); returns the site's folder."""
    proc = make_book(root, *make_args)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    site = root.resolve() / "build" / "book" / "html"
    assert str(site / "index.html") in proc.stdout, proc.stdout  # it says where the site is
    return site


# ---- what a notebook holds ----------------------------------------------------------------------
def lab_title(nb) -> str:
    """The text of the notebook's first `# ` heading, as it reads (inline markup dropped)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return re.sub(r"[`*]", "", line[2:]).strip()
    raise AssertionError("the notebook has no `# ` heading")


def stored_images(nb) -> list[bytes]:
    """The image outputs stored in the notebook, one entry (the image's bytes) per output shown."""
    images = []
    shown = [cell for cell in nb.cells if cell.cell_type == "code" and not REMOVED & set(cell.metadata.get("tags", []))]
    outputs = [output for cell in shown for output in cell.get("outputs", [])]
    for output in outputs:
        data = output.get("data", {})
        if output.get("output_type") not in ("display_data", "execute_result") or any(m in data for m in OVER_IMAGES):
            continue
        if "image/svg+xml" in data:
            svg = data["image/svg+xml"]
            images.append(("".join(svg) if isinstance(svg, list) else svg).encode("utf-8"))
        elif mime := next((m for m in ("image/png", "image/jpeg", "image/gif") if m in data), None):
            images.append(base64.b64decode(data[mime]))
    return images


def intro_words(nb) -> set[str]:
    """Words of 8+ letters of the lab's introduction (the markdown cell of its title), lower case,
    without code spans, link targets, HTML tags and the words Sphinx's search leaves out."""
    from sphinx.search.en import SearchEnglish

    text = next(c.source for c in nb.cells if c.cell_type == "markdown" and re.search(r"^# ", c.source, re.M))
    text = re.sub(r"`[^`]*`|\]\([^)]*\)|<[^>]+>", " ", text)
    return set(re.findall(r"\b[a-z]{8,}\b", text.lower())) - set(SearchEnglish.stopwords)


# ---- what a page holds ----------------------------------------------------------------------------
class Page(HTMLParser):
    """The parts of a built page the checks read."""

    def __init__(self, path: Path):
        super().__init__()
        self.h1: list[str] = []
        self.images: list[str] = []
        self.next: str | None = None
        self.toctree_links: list[str] = []
        self._in_h1 = 0
        self._div_depth = 0
        self._toctree_depth: int | None = None
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "div":
            self._div_depth += 1
            if "toctree-wrapper" in classes and self._toctree_depth is None:
                self._toctree_depth = self._div_depth
        elif tag == "h1":
            self._in_h1 += 1
            self.h1.append("")
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "link" and attrs.get("rel") == "next":
            self.next = attrs.get("href")
        elif tag == "a" and self._toctree_depth is not None and attrs.get("href"):
            self.toctree_links.append(attrs["href"])
        if tag == "a" and "headerlink" in classes:
            self._in_h1 = -abs(self._in_h1)  # the heading's "#" permalink is not its text

    def handle_endtag(self, tag):
        if tag == "div":
            if self._toctree_depth == self._div_depth:
                self._toctree_depth = None
            self._div_depth -= 1
        elif tag == "h1":
            self._in_h1 = 0
        elif tag == "a" and self._in_h1 < 0:
            self._in_h1 = -self._in_h1

    def handle_data(self, data):
        if self._in_h1 > 0:
            self.h1[-1] += data


def search_index(site: Path) -> dict:
    text = (site / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def search_docs(index_data: dict, term: str) -> list[int]:
    """The documents in which the search finds a (stemmed) term: in their text or their headings."""
    found = []
    for table in ("terms", "titleterms"):
        docs = index_data[table].get(term, [])
        found += docs if isinstance(docs, list) else [docs]
    return found


def check_site(site: Path, notebooks: list[Path]) -> dict[str, int]:
    """Every check of a built site against its notebooks; returns {lab: images on its page}."""
    order = sorted(notebooks, key=lambda p: int(re.match(r"\d+", p.name).group()))
    pages = {nb.stem: site / "notebooks" / f"{nb.stem}.html" for nb in order}

    # a page per lab, with the lab's title as its heading
    for nb in order:
        assert pages[nb.stem].is_file(), f"no page for {nb.name}"
        title = lab_title(nbformat.read(nb, as_version=4))
        headings = [" ".join(h.split()) for h in Page(pages[nb.stem]).h1]
        assert headings[:1] == [title], f"{nb.name}: the page's heading is {headings}, the lab's title {title!r}"

    # the navigation: the index's table of contents links every lab, in numeric order, and each
    # lab's page leads on to the next lab
    index = Page(site / "index.html")
    labs_linked = [href for href in index.toctree_links if href.startswith("notebooks/")]
    assert labs_linked == [f"notebooks/{nb.stem}.html" for nb in order], labs_linked
    for this, following in zip(order, order[1:]):
        assert Page(pages[this.stem]).next == f"{following.stem}.html", f"{this.name} does not lead to {following.name}"

    # the search index: every lab is in it, with its title and every word of its introduction
    from sphinx.search.en import SearchEnglish  # how Sphinx's search stems the English words it indexes

    stem = SearchEnglish({}).stem
    index_data = search_index(site)
    for nb in order:
        doc = index_data["docnames"].index(f"notebooks/{nb.stem}")
        notebook = nbformat.read(nb, as_version=4)
        assert html.unescape(index_data["titles"][doc]) == lab_title(notebook)
        words = intro_words(notebook)
        missing = sorted(w for w in words if doc not in search_docs(index_data, stem(w)))
        assert words and not missing, f"{nb.name}: not found by the search: {missing or 'no words to look for'}"

    # figures: each image output stored in a notebook is an image file of the site, shown on its page
    shown = {}
    for nb in order:
        images = stored_images(nbformat.read(nb, as_version=4))
        srcs = [src for src in Page(pages[nb.stem]).images if src.startswith("../_images/")]
        assert len(srcs) == len(images), f"{nb.name} stores {len(images)} images, its page shows {len(srcs)}"
        files = [site / "notebooks" / src for src in srcs]
        assert all(f.is_file() for f in files), [str(f) for f in files if not f.is_file()]
        assert sorted(images) == sorted(f.read_bytes() for f in files), f"{nb.name}: the page's images differ"
        shown[nb.stem] = len(srcs)
    return shown


# ---- a synthetic notebook with stored figures --------------------------------------------------------
def png(rgb: tuple[int, int, int], size: int = 3) -> bytes:
    """A small single-colour PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def synthetic_lab(path: Path, title: str, images: list[bytes], prose: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell("show()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="epoch 1\n")]
    cell.outputs += [nbformat.v4.new_output("display_data", data={
        "image/png": base64.b64encode(img).decode("ascii"), "text/plain": "<Figure size 3x3>"}) for img in images]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{prose}"), cell]
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Two labs, the first storing two PNG figures, and a results table: (site, notebooks)."""
    folder = tmp_path_factory.mktemp("synthetic")
    notebooks = [
        synthetic_lab(folder / "01_figures.ipynb", "01 · Stored figures", [png((255, 0, 0)), png((0, 0, 255))],
                      "A zebrafish lesson about saturating activations."),
        synthetic_lab(folder / "02_words.ipynb", "02 · No figures", [], "Only a paragraph about lighthouses."),
    ]
    results = folder / "results.md"
    results.write_text("# Workbook run - profile `quick`\n\n| result | value |\n|---|---|\n"
                       "| synthetic.accuracy | 0.9876 |\n", encoding="utf-8")
    (folder / "repo").mkdir()
    site = built(folder / "repo", f"NOTEBOOKS={' '.join(map(str, notebooks))}", f"RESULTS={results}")
    return site, notebooks


# ---- tests ------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.multiprocess
def test_the_workbook_builds_into_a_book(tmp_path):
    """`make book`: the committed labs, notebooks/[0-9]*.ipynb, into build/book/html."""
    site = built(tmp_path)
    assert len(LABS) >= 15
    check_site(site, LABS)
    assert "Results" in Page(site / "results.html").h1
    readme = site / "README.html"
    assert readme.is_file() and "README.html" in (site / "index.html").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.multiprocess
def test_stored_figures_are_on_their_pages(synthetic):
    """The figure check is not vacuous: the synthetic lab's two PNGs are on its page, from _images/."""
    site, notebooks = synthetic
    assert check_site(site, notebooks) == {"01_figures": 2, "02_words": 0}
    assert len(list((site / "_images").glob("*.png"))) == 2
    index_data = search_index(site)
    assert search_docs(index_data, "zebrafish") == [index_data["docnames"].index("notebooks/01_figures")]


@pytest.mark.slow
@pytest.mark.multiprocess
def test_the_results_page_shows_the_given_table(synthetic):
    site, _ = synthetic
    text = (site / "results.html").read_text(encoding="utf-8")
    assert "synthetic.accuracy" in text and "0.9876" in text


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_warning_fails_the_build(tmp_path):
    """-W: a broken link in a notebook fails the build (exit 1), naming the link."""
    nb = synthetic_lab(tmp_path / "01_broken.ipynb", "01 · Broken", [], "See [the missing page](missing_page.md).")
    (tmp_path / "repo").mkdir()
    proc = make_book(tmp_path / "repo", f"NOTEBOOKS={nb}")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "missing_page.md" in proc.stderr


@pytest.mark.multiprocess
def test_the_build_refuses_a_folder_it_did_not_make(tmp_path):
    """It empties its output folder before a build: never one it did not make (exit 2, the folder kept)."""
    keep = tmp_path / "mine.txt"
    keep.write_text("not the book's", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(BUILD), "--out", str(tmp_path), str(LABS[0])],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "refusing" in proc.stderr, proc.stderr
    assert keep.read_text(encoding="utf-8") == "not the book's"


def test_the_results_table_is_never_the_results_page_itself(tmp_path):
    """book/results.md is committed and named results.md: taking it as the table made the page
    include itself (Sphinx: RecursionError). A committed table elsewhere is taken."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_build", BUILD)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    repo = tmp_path / "repo"
    (repo / "book").mkdir(parents=True)
    (repo / "book" / "results.md").write_text("# Results\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "page"], cwd=repo, check=True)
    assert build.committed_results(repo) is None
    (repo / "results" / "quick").mkdir(parents=True)
    (repo / "results" / "quick" / "results.md").write_text("| result | value |\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "table"], cwd=repo, check=True)
    assert build.committed_results(repo) == repo / "results" / "quick" / "results.md"
