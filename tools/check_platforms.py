"""Resolve the lock files for every platform the README states, without installing anything.

    .venv/bin/python tools/check_platforms.py                  # every target, a table at the end
    .venv/bin/python tools/check_platforms.py -k macos         # only targets whose name contains "macos"
    .venv/bin/python tools/check_platforms.py --reports DIR    # keep pip's JSON reports in DIR

For each target (a Python version and a platform) it runs

    pip install --dry-run --ignore-installed --only-binary=:all: --implementation cp \\
        --python-version V --platform TAG [--platform TAG ...] -r LOCK --report FILE

and reads pip's report. A target the README calls supported passes when pip resolves the lock
with wheels only and every distribution it would install is pinned in the lock at that version
(so the lock is complete for that platform), with exactly one TensorFlow distribution (the GPU
lock: ``tensorflow`` with its CUDA libraries). A target the README calls unsupported for want of
TensorFlow passes when the lock does *not* resolve and the locked TensorFlow alone (``--no-deps``)
has no wheel there; whether the rest of the lock would resolve is reported alongside.

pip chooses wheels for ``--platform``/``--python-version`` but evaluates environment markers
(``sys_platform == "darwin"``, ...) for the interpreter running it (pypa/pip#11664). This tool
therefore runs pip with the target's marker environment patched in (:func:`marker_environment`), so
platform-specific dependencies (appnope on macOS, the lock's TensorFlow lines) resolve as they
would on that platform. What it cannot see: whether a wheel imports and runs there.

Exit status 0 when every target's outcome is the expected one. Needs the package index (PyPI);
pip's HTTP cache makes a second run faster. ``tests/test_platforms.py`` runs it.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ModuleNotFoundError:  # run by a Python without packaging: pip's copy does the same
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPU_LOCK = "requirements.lock"
GPU_LOCK = "requirements-gpu.lock"

# The distributions that install the ``tensorflow`` import package: two in one environment
# overwrite each other's files.
TF_DISTRIBUTIONS = {
    "tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos",
    "tensorflow-aarch64", "tensorflow-cpu-aws", "tf-nightly", "tf-nightly-cpu",
}
# pip and setuptools are the installer's own tools; like `pip freeze`, the lock leaves
# them out (setuptools is required, unpinned, by tensorflow and tensorboard: any version does).
INSTALLER_TOOLS = {"pip", "setuptools"}

# The oldest glibc the Linux targets claim: manylinux_2_28 (RHEL/Alma/Rocky 8, Debian 10,
# Ubuntu 20.04 and newer). pip does not expand manylinux_2_X to older tags by itself.
GLIBC_MINOR = 28
LINUX_X86_64 = [f"manylinux_2_{m}_x86_64" for m in range(GLIBC_MINOR, 16, -1)] + ["manylinux2014_x86_64"]
LINUX_AARCH64 = [f"manylinux_2_{m}_aarch64" for m in range(GLIBC_MINOR, 16, -1)] + ["manylinux2014_aarch64"]
# pip expands macosx_12_0_arm64 to every older macOS and the universal2 wheels.
MACOS_ARM64 = ["macosx_12_0_arm64"]
MACOS_X86_64 = ["macosx_15_0_x86_64"]  # Intel macOS 15 and older: no TensorFlow 2.21 wheel

PLATFORM_MARKERS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
                     "os_name": "posix", "platform_release": "6.1.0", "platform_version": "#1 SMP"},
    "linux-aarch64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64",
                      "os_name": "posix", "platform_release": "6.1.0", "platform_version": "#1 SMP"},
    "macos-arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64",
                    "os_name": "posix", "platform_release": "23.0.0", "platform_version": "Darwin Kernel"},
    "macos-x86_64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64",
                     "os_name": "posix", "platform_release": "23.0.0", "platform_version": "Darwin Kernel"},
}
PLATFORM_TAGS = {
    "linux-x86_64": LINUX_X86_64, "linux-aarch64": LINUX_AARCH64, "macos-arm64": MACOS_ARM64,
    "macos-x86_64": MACOS_X86_64,
}
# The oldest patch release each Python line is claimed for (pyproject's requires-python).
PYTHON_FULL = {"3.11": "3.11.5", "3.12": "3.12.0"}


@dataclasses.dataclass(frozen=True)
class Target:
    platform: str  # a key of PLATFORM_TAGS
    python: str  # "3.11"
    lock: str = CPU_LOCK
    expect: str = "ok"  # "ok" or "no-tensorflow" (the lock fails: TensorFlow has no wheel there)

    @property
    def name(self) -> str:
        gpu = "-gpu" if self.lock == GPU_LOCK else ""
        return f"{self.platform}{gpu}-py{self.python}"


TARGETS = [
    *(Target(p, v) for p in ("linux-x86_64", "linux-aarch64", "macos-arm64") for v in ("3.11", "3.12")),
    *(Target("linux-x86_64", v, GPU_LOCK) for v in ("3.11", "3.12")),
    Target("macos-x86_64", "3.11", expect="no-tensorflow"),
]


def marker_environment(target: Target) -> dict[str, str]:
    full = PYTHON_FULL[target.python]
    return {
        "implementation_name": "cpython", "implementation_version": full,
        "platform_python_implementation": "CPython", "python_version": target.python,
        "python_full_version": full, **PLATFORM_MARKERS[target.platform],
    }


# Runs pip in this interpreter with packaging's default marker environment replaced by the target's.
_PIP_WITH_MARKERS = """\
import json, os, sys
from pip._vendor.packaging import markers
_env = json.loads(os.environ["CHECK_PLATFORMS_MARKERS"])
markers.default_environment = lambda: dict(_env)
from pip._internal.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def read_lock(path: str) -> list[Requirement]:
    reqs = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                reqs.append(Requirement(line))
    return reqs


def pins_for(reqs: list[Requirement], env: dict[str, str]) -> dict[str, str]:
    """{canonical name: version} of the lock lines whose markers hold in ``env``."""
    pins = {}
    for req in reqs:
        if req.marker is None or req.marker.evaluate(env):
            (spec,) = req.specifier
            assert spec.operator == "==", f"lock line not pinned with ==: {req}"
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def _write_lines(folder: str, reqs: list[Requirement]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=folder, delete=False) as fh:
        fh.writelines(f"{r}\n" for r in reqs)
    return fh.name


def run_pip(target: Target, requirements: str, report: str, timeout: float,
            no_deps: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", _PIP_WITH_MARKERS, "install", "--dry-run", "--ignore-installed",
           "--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_FULL[target.python]]
    if no_deps:
        cmd.append("--no-deps")
    for tag in PLATFORM_TAGS[target.platform]:
        cmd += ["--platform", tag]
    cmd += ["-r", requirements, "--report", report, "--quiet", "--disable-pip-version-check"]
    env = {**os.environ, "CHECK_PLATFORMS_MARKERS": json.dumps(marker_environment(target))}
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"ERROR: pip did not finish in {timeout:.0f} s")


def pip_version() -> str:
    out = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
    return " ".join(out.stdout.split()[:2]) or "pip not found"


def _error_line(stderr: str) -> str:
    errors = [ln for ln in stderr.splitlines() if ln.startswith("ERROR")]
    return errors[-1] if errors else (stderr.strip().splitlines() or ["(no message)"])[-1]


def check(target: Target, report_dir: str, timeout: float = 900) -> dict:
    """Resolve one target; returns {"target", "expected", "ok", "summary", ...}."""
    lock_path = os.path.join(REPO, target.lock)
    reqs = read_lock(lock_path)
    env = marker_environment(target)
    pins = pins_for(reqs, env)
    report = os.path.join(report_dir, f"{target.name}.json")
    start = time.monotonic()
    proc = run_pip(target, lock_path, report, timeout)
    result = {"target": target.name, "platform": target.platform, "python": target.python,
              "lock": target.lock, "expected": target.expect, "tags": PLATFORM_TAGS[target.platform],
              "rc": proc.returncode}

    if target.expect == "no-tensorflow":
        problems = []
        if proc.returncode == 0:
            problems.append("the lock resolved, though the README says this platform has no TensorFlow")
        # The claim itself: the locked TensorFlow has no wheel for this platform.
        tf_only = _write_lines(report_dir, [r for r in reqs if canonicalize_name(r.name) in TF_DISTRIBUTIONS])
        tf_proc = run_pip(target, tf_only, report.replace(".json", "-tensorflow.json"), timeout, no_deps=True)
        tf_error = _error_line(tf_proc.stderr)
        if tf_proc.returncode == 0:
            problems.append("the locked TensorFlow resolves here")
        # For the record, not the claim: does the rest of the lock have wheels here?
        rest = _write_lines(report_dir, [r for r in reqs if canonicalize_name(r.name) not in TF_DISTRIBUTIONS])
        rest_proc = run_pip(target, rest, report.replace(".json", "-without-tensorflow.json"), timeout)
        os.unlink(tf_only)
        os.unlink(rest)
        rest_note = ("the rest of the lock resolves" if rest_proc.returncode == 0 else
                     f"without TensorFlow: {_error_line(rest_proc.stderr).removeprefix('ERROR: ')}")
        result.update(ok=not problems, problems=problems, error=tf_error, rest=rest_note,
                      seconds=round(time.monotonic() - start),
                      summary=f"fails: {tf_error.removeprefix('ERROR: ')} ({rest_note})"
                      if not problems else "; ".join(problems))
        return result

    if proc.returncode != 0:
        error = _error_line(proc.stderr)
        result.update(ok=False, problems=[error], error=error, seconds=round(time.monotonic() - start),
                      summary=f"pip failed: {error}")
        return result

    with open(report, encoding="utf-8") as fh:
        installs = json.load(fh)["install"]
    chosen = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in installs}
    wheels = {canonicalize_name(i["metadata"]["name"]): i["download_info"]["url"].rsplit("/", 1)[-1]
              for i in installs}
    problems = []
    for name, version in sorted(chosen.items()):
        if name in INSTALLER_TOOLS:
            continue
        if name not in pins:
            problems.append(f"{name} {version} is not in {target.lock}")
        elif pins[name] != version:
            problems.append(f"{name}: {version} chosen, {pins[name]} locked")
    tf = sorted(n for n in chosen if n in TF_DISTRIBUTIONS)
    if len(tf) != 1:
        problems.append(f"{len(tf)} TensorFlow distributions: {tf}")
    cuda = sorted(n for n in chosen if n.startswith("nvidia-"))
    if target.lock == GPU_LOCK:
        if tf != ["tensorflow"]:
            problems.append(f"the GPU lock must install `tensorflow` (with CUDA), got {tf}")
        if not any(n.startswith("nvidia-cudnn") for n in cuda):
            problems.append("the GPU lock brings no CUDA libraries (nvidia-cudnn-*)")
    elif cuda:
        problems.append(f"the CPU lock brings CUDA libraries: {cuda}")
    tf_wheel = wheels[tf[0]] if tf else "-"
    summary = f"{len(chosen)} distributions, all locked; TensorFlow: {tf_wheel}"
    if cuda:
        summary += f"; {len(cuda)} nvidia-* CUDA libraries"
    result.update(ok=not problems, problems=problems, seconds=round(time.monotonic() - start),
                  distributions=len(chosen), tensorflow=tf, tensorflow_wheel=tf_wheel, cuda=cuda,
                  summary=summary if not problems else "; ".join(problems))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", dest="keyword", default="", help="only targets whose name contains this")
    parser.add_argument("--reports", help="folder for pip's JSON reports (default: a temporary one)")
    parser.add_argument("--json", help="write the results as JSON to this file")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per pip run")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="pip runs at once (they mostly wait on the index)")
    args = parser.parse_args(argv)
    targets = [t for t in TARGETS if re.search(re.escape(args.keyword), t.name)]
    if not targets:
        parser.error(f"no target matches {args.keyword!r}: {[t.name for t in TARGETS]}")
    report_dir = args.reports or tempfile.mkdtemp(prefix="check-platforms-")
    os.makedirs(report_dir, exist_ok=True)
    def one(target: Target) -> dict:
        res = check(target, report_dir, args.timeout)
        print(f"{target.name}: {target.lock}: {'PASS' if res['ok'] else 'FAIL'} ({res['seconds']} s): "
              f"{res['summary']}", flush=True)
        return res

    print(f"resolving {len(targets)} targets with {sys.executable} -m pip ({pip_version()})", flush=True)
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(one, targets))
    print("\n| target | python | lock | expected | outcome | result |\n|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['platform']} | {r['python']} | {r['lock']} | {r['expected']} | "
              f"{'PASS' if r['ok'] else 'FAIL'} | {r['summary']} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    print(f"pip reports in {report_dir}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
