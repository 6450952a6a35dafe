"""labkit.outputs: the one rule for where the command-line tools write (checked through them)."""
from __future__ import annotations

import os
import stat

import nbformat
import pytest

from labkit import nbtools, outputs, student


def _write_nb(path, source="x = None\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), path)
    return path.read_bytes()


def test_a_linked_input_whose_file_lives_in_the_output_folder_is_refused_even_forced(tmp_path, capsys):
    real = tmp_path / "student" / "01_a.ipynb"
    before = _write_nb(real)
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "01_a.ipynb").symlink_to(real)
    assert student.main(["--force", "--out", str(tmp_path / "student"),
                         str(tmp_path / "links" / "01_a.ipynb")]) == 2
    assert real.read_bytes() == before
    assert "holds the input" in capsys.readouterr().err


def test_new_files_get_the_usual_permissions_and_rewrites_keep_them(tmp_path):
    """Temporary files are private (0600); what is moved into place must not be."""
    src = tmp_path / "notebooks" / "01_a.ipynb"
    _write_nb(src)
    assert student.main(["--out", str(tmp_path / "student"), str(src)]) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(tmp_path / "student" / "01_a.ipynb").st_mode) == 0o666 & ~mask
    nb = nbformat.read(src, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="x\n")]
    nbformat.write(nb, src)
    os.chmod(src, 0o640)
    assert nbtools.main(["clean", str(src)]) == 0
    assert nbformat.read(src, as_version=4).cells[0].outputs == []
    assert stat.S_IMODE(os.stat(src).st_mode) == 0o640


def test_a_manifest_it_did_not_write_is_not_overwritten(tmp_path):
    src = tmp_path / "notebooks" / "01_a.ipynb"
    _write_nb(src)
    out = tmp_path / "student"
    out.mkdir()
    (out / outputs.MANIFEST).write_text("my notes\n")
    assert student.main(["--out", str(out), str(src)]) == 2
    assert (out / outputs.MANIFEST).read_text() == "my notes\n" and not (out / "01_a.ipynb").exists()


@pytest.mark.parametrize("call, error, name", [
    (lambda p: outputs.plan_outputs(3, [p / "a.ipynb"]), TypeError, "out_dir"),
    (lambda p: outputs.plan_outputs(p, str(p / "a.ipynb")), TypeError, "inputs"),
    (lambda p: outputs.plan_outputs(p, []), ValueError, "inputs"),
    (lambda p: outputs.plan_outputs(p, [None]), TypeError, r"inputs\[0\]"),
    (lambda p: outputs.plan_outputs(p / "o", [p / "a.ipynb"], extra=["sub/x.md"]), ValueError, "extra"),
    (lambda p: outputs.plan_outputs(p / "o", [p / "a.ipynb"], force="yes"), TypeError, "force"),
    (lambda p: outputs.check_dest("", [p / "a.ipynb"]), ValueError, "dest"),
    (lambda p: outputs.write_text(p / "x.txt", b"bytes"), TypeError, "text"),
    (lambda p: outputs.read_notebook(None), TypeError, "path"),
])
def test_api_validates_its_arguments(tmp_path, call, error, name):
    with pytest.raises(error, match=rf"\b{name}"):
        call(tmp_path)
    assert sorted(os.listdir(tmp_path)) == []
