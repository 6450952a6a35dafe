"""The platforms README states resolve, and installing the package keeps what is already installed.

Both ask the package index (pip --dry-run: metadata only, no wheel is downloaded) and skip only
when the index cannot be reached at all; the reachability check says which index and why.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "check_platforms.py")


@functools.cache
def _tool():
    spec = importlib.util.spec_from_file_location("check_platforms", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_platforms"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _index_url() -> str:
    """The index pip uses here: PIP_INDEX_URL, pip's configured index-url, or PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    out = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "https://pypi.org/simple"


@pytest.fixture(scope="module")
def package_index():
    """Skip (saying so) when the package index is unreachable; otherwise return its URL."""
    url = _index_url().rstrip("/")
    probe = f"{url}/pip/"
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    try:
        with urllib.request.urlopen(probe, timeout=20, context=context) as resp:
            resp.read(1)
    except urllib.error.HTTPError:
        pass  # it answered: reachable (the checks themselves will say what is wrong)
    except (urllib.error.URLError, OSError) as exc:
        pytest.skip(f"package index unreachable ({probe}: {exc}); the resolution checks need it")
    return url


def test_readme_names_every_checked_platform():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    for target in _tool().TARGETS:
        assert f"`{target.platform}`" in readme, f"README's platform table lacks {target.platform}"
    assert "tools/check_platforms.py" in readme


@pytest.mark.slow
@pytest.mark.network
def test_locks_resolve_for_every_stated_platform(package_index, tmp_path):
    """tools/check_platforms.py: each supported (Python, platform) resolves the lock with wheels only,
    every distribution locked, one TensorFlow (the GPU lock: the CUDA build); Intel macOS does not,
    because of TensorFlow alone."""
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, TOOL, "-j", "2", "--reports", str(tmp_path), "--json", str(out)],
                          capture_output=True, text=True, timeout=1800, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert {r["target"] for r in results} == {t.name for t in _tool().TARGETS}
    gpu = [r for r in results if r["lock"] == "requirements-gpu.lock"]
    assert gpu and all(r["tensorflow"] == ["tensorflow"] and r["cuda"] for r in gpu), gpu


# Versions an environment like Colab's may already have: every one inside pyproject.toml's ranges
# and different from the lock's. Installing the package must keep them all.
PREINSTALLED = {
    "tensorflow": "2.19.0", "keras": "3.10.0", "numpy": "2.0.2", "scipy": "1.15.3",
    "scikit-learn": "1.6.1", "matplotlib": "3.10.0", "pillow": "11.3.0", "tensorboard": "2.19.0",
    "jupyterlab": "4.4.0", "ipykernel": "6.17.1", "ipywidgets": "8.1.7", "nbformat": "5.10.4",
    "nbclient": "0.10.2", "psutil": "5.9.5",
}


def _fake_installed(site_packages: str, name: str, version: str) -> None:
    """A distribution's metadata without its files: enough for pip to see it installed."""
    dist_info = os.path.join(site_packages, f"{name.replace('-', '_')}-{version}.dist-info")
    os.makedirs(dist_info)
    with open(os.path.join(dist_info, "METADATA"), "w", encoding="utf-8") as fh:
        fh.write(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for fname, text in (("INSTALLER", "pip\n"), ("RECORD", "")):
        with open(os.path.join(dist_info, fname), "w", encoding="utf-8") as fh:
            fh.write(text)


@pytest.mark.slow
@pytest.mark.network
def test_installing_the_package_keeps_versions_already_installed(package_index, tmp_path):
    """pip install of the package into a venv that already has other (in-range) versions of numpy,
    jupyterlab, TensorFlow... installs the package and what is missing, and replaces none of them."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        declared = {canonicalize_name(Requirement(d).name): Requirement(d)
                    for d in tomllib.load(fh)["project"]["dependencies"]}
    for name, version in PREINSTALLED.items():  # the premise: in range, so pip has no reason to touch it
        assert declared[name].specifier.contains(version), f"{name} {version} is outside {declared[name]}"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for name, version in PREINSTALLED.items():
        _fake_installed(site, name, version)

    # the package's metadata is built from a copy, so that nothing is written into the repository
    project = tmp_path / "project"
    project.mkdir()
    for fname in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(REPO, fname), project / fname)
    (project / "labkit").mkdir()
    (project / "labkit" / "__init__.py").write_text("")

    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--dry-run",
                           "--quiet", "--report", str(report), str(project)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    installs = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
                for i in json.loads(report.read_text())["install"]}
    assert "nn-in-practice" in installs, installs
    replaced = {n: (PREINSTALLED[n], v) for n, v in installs.items() if n in PREINSTALLED}
    assert not replaced, f"pip would replace pre-installed versions (had, would install): {replaced}"
    tf = sorted(n for n in installs if n in _tool().TF_DISTRIBUTIONS)
    assert not tf, f"TensorFlow 2.19 was installed already, yet pip adds {tf}"
    # and it did resolve the rest: the declared packages that were missing come from the index
    assert {"keras-tuner", "jupytext"} <= set(installs), sorted(installs)
