"""pyproject.toml, requirements.lock, requirements-gpu.lock and environment.yml describe one environment.

pyproject.toml declares ranges; the locks hold the exact versions `make setup` installs; these
tests check that the ranges admit every locked version, that the GPU lock is the CPU lock with
TensorFlow's CUDA build, that environment.yml installs the lock, and that this venv has the locked
versions. Whether the locks resolve on each platform: tests/test_platforms.py.
"""
from __future__ import annotations

import os

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPU_LOCK = "requirements.lock"
GPU_LOCK = "requirements-gpu.lock"
TF_DISTRIBUTIONS = {"tensorflow", "tensorflow-cpu"}  # what the locks may install `tensorflow` as
CHECKED_PYTHONS = {"3.11": "3.11.5", "3.12": "3.12.0"}  # tools/check_platforms.py's PYTHON_FULL


def _project() -> dict:
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        return tomllib.load(fh)["project"]


def _declared() -> list[Requirement]:
    """pyproject's dependencies and every extra's."""
    project = _project()
    deps = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        deps += extra
    return [Requirement(d) for d in deps]


def _lock(name: str = CPU_LOCK) -> list[Requirement]:
    reqs = []
    with open(os.path.join(REPO, name), encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                reqs.append(Requirement(line))
    return reqs


def _version(req: Requirement) -> str:
    (spec,) = req.specifier
    return spec.version


def _locked_versions(name: str = CPU_LOCK) -> dict[str, set[str]]:
    """{canonical name: every version the lock pins for it, on any platform}."""
    versions: dict[str, set[str]] = {}
    for req in _lock(name):
        versions.setdefault(canonicalize_name(req.name), set()).add(_version(req))
    return versions


@pytest.mark.parametrize("lock", [CPU_LOCK, GPU_LOCK])
def test_lock_lines_are_exact_pins(lock):
    seen = {}
    for req in _lock(lock):
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{lock}: not an exact pin: {req}"
        key = (canonicalize_name(req.name), str(req.marker))
        assert key not in seen, f"{lock}: {req.name} twice"
        seen[key] = req


def test_distribution_name_is_not_pypis_labkit():
    """PyPI's `labkit` is another project; the distribution has its own name, the import name stays."""
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        pyproject = tomllib.load(fh)
    assert canonicalize_name(pyproject["project"]["name"]) != "labkit"
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["include"] == ["labkit*"]


def test_pyproject_declares_ranges_not_pins():
    pinned = [str(r) for r in _declared() if any(s.operator in ("==", "===") for s in r.specifier)]
    assert not pinned, f"pyproject.toml pins exact versions (the lock's job): {pinned}"
    names = {canonicalize_name(Requirement(d).name) for d in _project()["dependencies"]}
    assert "tensorflow" in names and "tensorflow-cpu" not in names, "declare `tensorflow`: either build satisfies it"


@pytest.mark.parametrize("lock", [CPU_LOCK, GPU_LOCK])
def test_pyproject_ranges_admit_every_locked_version(lock):
    locked = _locked_versions(lock)
    for req in _declared():
        name = canonicalize_name(req.name)
        # tensorflow-cpu is the lock's `tensorflow` on Linux x86_64: it must satisfy the same range
        candidates = TF_DISTRIBUTIONS if name == "tensorflow" else {name}
        versions = set().union(*(locked.get(n, set()) for n in candidates))
        assert versions, f"{req} is declared but {lock} does not pin {req.name}"
        for v in versions:
            assert req.specifier.contains(v, prereleases=True), f"{lock} pins {req.name}=={v}, outside {req}"


def test_gpu_lock_is_the_cpu_lock_with_cuda_tensorflow():
    """Only the TensorFlow lines differ, and the CUDA libraries (nvidia-*) the CUDA build brings."""
    def split(lock):
        tf = [r for r in _lock(lock) if canonicalize_name(r.name) in TF_DISTRIBUTIONS]
        cuda = [r for r in _lock(lock) if canonicalize_name(r.name).startswith("nvidia-")]
        rest = [str(r) for r in _lock(lock) if r not in tf and r not in cuda]
        return tf, cuda, rest

    cpu_tf, cpu_cuda, cpu_rest = split(CPU_LOCK)
    gpu_tf, gpu_cuda, gpu_rest = split(GPU_LOCK)
    assert gpu_rest == cpu_rest, "requirements-gpu.lock must pin everything but TensorFlow as requirements.lock does"
    assert not cpu_cuda and gpu_cuda, "CUDA libraries belong in requirements-gpu.lock only"
    assert all(r.marker is None for r in gpu_cuda), gpu_cuda
    assert {canonicalize_name(r.name) for r in cpu_tf} == {"tensorflow", "tensorflow-cpu"}
    (version,) = {_version(r) for r in cpu_tf}
    assert [str(r) for r in gpu_tf] == [f"tensorflow[and-cuda]=={version}"], gpu_tf


def test_cpu_lock_installs_one_tensorflow_per_platform():
    """The two TensorFlow lines' markers are complements: exactly one holds anywhere."""
    tf = [r for r in _lock() if canonicalize_name(r.name) in TF_DISTRIBUTIONS]
    for sys_platform, machine in [("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64"),
                                  ("darwin", "x86_64"), ("win32", "AMD64")]:
        env = {**default_environment(), "sys_platform": sys_platform, "platform_machine": machine}
        chosen = [r.name for r in tf if r.marker is None or r.marker.evaluate(env)]
        assert len(chosen) == 1, (sys_platform, machine, chosen)
        expected = "tensorflow-cpu" if (sys_platform, machine) == ("linux", "x86_64") else "tensorflow"
        assert canonicalize_name(chosen[0]) == expected


def test_environment_yml_installs_the_lock():
    with open(os.path.join(REPO, "environment.yml"), encoding="utf-8") as fh:
        env = yaml.safe_load(fh)
    deps = env["dependencies"]
    pythons = [d.split("=", 1)[1] for d in deps if isinstance(d, str) and d.startswith("python=")]
    assert len(pythons) == 1 and pythons[0] in CHECKED_PYTHONS, pythons
    requires = SpecifierSet(_project()["requires-python"])
    assert requires.contains(CHECKED_PYTHONS[pythons[0]]), (pythons[0], str(requires))
    pip = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert pip == [["-r requirements.lock", "-e ."]], pip
    # no other conda package that pip's pins could collide with
    assert [d for d in deps if isinstance(d, str)] == [f"python={pythons[0]}", "pip"]


def test_installed_versions_are_the_locked_ones():
    """This venv has every locked version (the lock of the TensorFlow build installed)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    # on Linux x86_64 the CPU lock installs tensorflow-cpu, the GPU lock tensorflow
    here = default_environment()
    linux_x86_64 = (here["sys_platform"], here["platform_machine"]) == ("linux", "x86_64")
    lock = GPU_LOCK if linux_x86_64 and installed("tensorflow") and not installed("tensorflow-cpu") else CPU_LOCK
    wrong = []
    for req in _lock(lock):
        if req.marker is not None and not req.marker.evaluate():
            continue
        have = installed(req.name)
        if have != _version(req):
            wrong.append(f"{req.name}: {have or 'not installed'}, {lock} pins {_version(req)}")
    assert not wrong, "run `make setup`: " + "; ".join(wrong)
    tf = [n for n in sorted(TF_DISTRIBUTIONS) if installed(n)]
    assert len(tf) == 1, f"{len(tf)} TensorFlow distributions installed: {tf}"
