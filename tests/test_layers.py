"""The tree keeps its shape: each package imports only the packages below it, no modules
import each other in a loop, the pure core loads with no I/O library, and every package
says what it holds. Read from the source (every import, lazy and type-only ones too), so a
test of the tree rather than of what one run happened to import."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("companion", "cues", "sensors")

# From the top down. A module may import its own package and any package in a lower tier,
# never one above it nor another of its own tier. `companion` alone means its top-level
# modules (config, paths, outputs, logs), which every package of the product may use.
TIERS: tuple[tuple[str, ...], ...] = (
    ("companion.__main__",),
    ("companion.cli", "companion.lab"),
    ("companion.daemon",),
    ("companion.run",),
    ("companion.history", "companion.drills"),
    ("companion.coaching",),
    ("companion.form",),
    ("companion",),
    ("cues",),
    ("sensors.bluetooth",),
    ("sensors.recorded",),
    ("sensors",),
    ("sensors.protocols",),
    ("sensors.samples",),  # the types every part of sensors speaks
)
TIER = {unit: rank for rank, units in enumerate(TIERS) for unit in units}

# The pure core: no device, no file of the history, no network, no other process.
PURE = ("sensors.protocols", "companion.form", "companion.coaching", "companion.drills.timeline")
IO_LIBRARIES = ("sounddevice", "bleak", "bumble", "sqlite3", "socket", "subprocess")

TOP_MODULES = {"__init__", "__main__", "config", "paths", "outputs", "logs"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def import_statements(path: Path) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every absolute import in `path`, anywhere in it (in a function, or for typing only)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        relative = isinstance(node, ast.ImportFrom) and (node.level or not node.module)
        if isinstance(node, ast.Import | ast.ImportFrom) and not relative:
            yield node


def imports(path: Path) -> set[str]:
    """Our modules that `path` imports: `from a.b import c` is a.b.c when that is a module,
    else a.b."""
    known = modules()
    found = set()
    for node in import_statements(path):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        else:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else str(node.module))
    return {name for name in found if name in known}


def unit(module: str) -> str:
    """The package a module belongs to for the layering: its longest listed prefix."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in TIER:
            return ".".join(parts[:n])
    raise AssertionError(f"{module} is in no tier of this test: add its package to TIERS")


def graph() -> dict[str, set[str]]:
    return {name: imports(path) - {name} for name, path in modules().items()}


def wrong_way(edges: dict[str, set[str]]) -> list[str]:
    """Each import of a package above the importer's, or of a peer of its tier."""
    wrong = []
    for importer, imported in sorted(edges.items()):
        mine = unit(importer)
        for target in sorted(imported):
            theirs = unit(target)
            if theirs != mine and TIER[theirs] <= TIER[mine]:
                wrong.append(f"{importer} imports {target}")
    return wrong


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other in a loop (Tarjan's strongly
    connected components, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return sorted(found)


def test_each_package_imports_only_those_below_it() -> None:
    assert wrong_way(graph()) == []


def test_no_modules_import_each_other_in_a_loop() -> None:
    assert cycles(graph()) == []


def test_the_checks_catch_a_break() -> None:
    """The two checks above, on a graph broken on purpose: they are not vacuous."""
    edges = graph()
    edges["companion.form.drift"] = edges["companion.form.drift"] | {"companion.coaching.engine"}
    assert "companion.form.drift imports companion.coaching.engine" in wrong_way(edges)
    assert any("companion.form.drift" in group for group in cycles(edges))
    edges = graph()
    edges["companion.history.fit"] |= {"companion.drills.player"}  # peers of one tier
    assert wrong_way(edges) == ["companion.history.fit imports companion.drills.player"]


# Blocks an I/O library when one of our modules asks for it, even through another of ours;
# the libraries we use (numpy, scipy, pydantic) may use them as they like.
BLOCKER = """
import importlib.abc
import sys

BLOCKED = set(sys.argv[1].split(","))
OURS = ("companion", "cues", "sensors")


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in BLOCKED:
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__", "").startswith(
            ("importlib", "_frozen_importlib")
        ):
            frame = frame.f_back
        caller = "" if frame is None else frame.f_globals.get("__name__", "")
        if caller.split(".")[0] in OURS:
            raise ImportError(f"{caller} imports {name}, an I/O library")
        return None


for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
sys.meta_path.insert(0, Blocker())
import importlib
import pkgutil

for root in sys.argv[2:]:
    module = importlib.import_module(root)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), root + "."):
        importlib.import_module(info.name)
print("loaded")
"""


def load_without(
    blocked: tuple[str, ...], roots: tuple[str, ...]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER, ",".join(blocked), *roots],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def pure_modules() -> list[str]:
    return [name for name in modules() if name.startswith(PURE)]


def io_imports(path: Path) -> set[str]:
    """The I/O libraries `path` imports itself, anywhere in it (lazily too)."""
    found = set()
    for node in import_statements(path):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        else:
            found.add(str(node.module).split(".")[0])
    return found & set(IO_LIBRARIES)


def test_the_pure_core_loads_without_io_libraries() -> None:
    """Loaded in a fresh interpreter where our modules may not import an I/O library, nor
    reach one through another of ours; and no function of the core imports one later."""
    done = load_without(IO_LIBRARIES, PURE)
    assert (done.returncode, done.stdout.strip()) == (0, "loaded"), done.stderr[-2000:]
    late = {name: io_imports(modules()[name]) for name in pure_modules()}
    assert {name: libs for name, libs in late.items() if libs} == {}


def test_the_blocker_blocks() -> None:
    """The same check on what keeps the history and what talks to devices: refused."""
    done = load_without(IO_LIBRARIES, ("companion.history.store",))
    assert done.returncode != 0 and "store imports sqlite3, an I/O library" in done.stderr
    done = load_without(IO_LIBRARIES, ("sensors.bluetooth.live",))
    assert done.returncode != 0 and "imports bleak, an I/O library" in done.stderr
    assert io_imports(modules()["cues.audio"]) == {"sounddevice", "subprocess"}


def test_each_package_says_what_it_holds() -> None:
    """Its __init__ opens with a docstring of a few lines that names what it may import."""
    for name, path in modules().items():
        if path.name != "__init__.py":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc and len(doc.splitlines()) >= 2, f"{name}: no docstring saying what it holds"
        assert "import" in doc.lower(), f"{name}: its docstring says nothing of what it imports"


def test_companion_holds_packages_and_few_modules() -> None:
    loose = {path.stem for path in (ROOT / "companion").glob("*.py")} - TOP_MODULES
    assert loose == set(), "modules belong in a package of companion/"


def test_nothing_reaches_outside_the_repository() -> None:
    """A stranger's clone has no folders beside it: everything is read from inside."""
    outside = re.compile(r"\.\./shared|\"shared\" */ *\"data\"|parents?(\[\d\])? */ *\"shared\"")
    reaching = [
        str(path.relative_to(ROOT))
        for folder in ("companion", "cues", "sensors", "tests", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != Path(__file__) and outside.search(path.read_text(encoding="utf-8"))
    ]
    assert reaching == []
