"""The package layout: layers import only downwards, no cycles, no hidden imports, all in the wheel."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "kiosk"
# Higher may import lower; equal ranks are separate rooms that do not import each other.
LAYERS = {"cli": 7, "measure": 6, "web": 6, "live": 5, "admin": 5, "outside": 4, "enrollment": 3, "store": 2,
          "vision": 1}
GROUND = 0  # config, errors, paths, runtime, util, pool, names, frame, vocabulary: one floor
LATE_IMPORT_MARK = "late on purpose"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    """The subpackage a module belongs to, or 'ground' for the top-level modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "ground"


def kiosk_imports(tree: ast.Module, module: str) -> list[tuple[str, ast.stmt]]:
    """Every kiosk module imported anywhere in TREE, with the statement."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names if alias.name.startswith("kiosk")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kiosk"):
            found.append((node.module, node))
            # `from kiosk.measure import bench` imports the submodule kiosk.measure.bench
            found += [(f"{node.module}.{alias.name}", node) for alias in node.names
                      if (PACKAGE.parent / f"{node.module}.{alias.name}".replace(".", "/")).with_suffix(".py").exists()]
    return found


def modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(), str(path)) for path in sorted(PACKAGE.rglob("*.py"))}


def test_layers_import_only_downwards():
    wrong = []
    for module, tree in modules().items():
        mine = room(module)
        rank = LAYERS.get(mine, GROUND)
        for target, node in kiosk_imports(tree, module):
            theirs = room(target)
            if target == "kiosk" or theirs == mine:
                continue
            if LAYERS.get(theirs, GROUND) >= rank:
                wrong.append(f"{module} (line {node.lineno}) imports {target}: {mine} may not use {theirs}")
    assert not wrong, "\n".join(wrong)


def test_the_layer_test_sees_a_wrong_import():
    tree = ast.parse("from kiosk.cli.common import UsageError\n")
    (target, _), = kiosk_imports(tree, "kiosk.store.db")
    assert LAYERS[room(target)] > LAYERS[room("kiosk.store.db")]


def test_no_import_cycle_between_modules():
    parsed = modules()  # parsed once: the graph looks every target up in it
    graph = {module: {target for target, node in kiosk_imports(tree, module) if target in parsed}
             for module, tree in parsed.items()}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(target):] + [target]))
            if target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_imports_inside_functions_are_marked():
    """Imports sit at the top of a module, except a heavy optional one that must load late, with a
    comment saying why (picamera2 exists only on a Pi; doctor checks whether a module imports)."""
    unmarked = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        context = " ".join(lines[max(0, inner.lineno - 2):inner.lineno])
                        if LATE_IMPORT_MARK not in context:
                            where = f"{path.relative_to(REPO)}:{inner.lineno}"
                            unmarked.append(f"{where}: {lines[inner.lineno - 1].strip()}")
    assert not unmarked, "\n".join(unmarked)


def test_the_daemon_loads_nothing_of_the_command_line():
    loaded = subprocess.run([sys.executable, "-c", "import sys, kiosk.live.daemon; "
                             "print(' '.join(m for m in sys.modules if m.startswith('kiosk')))"],
                            capture_output=True, text=True, check=True, cwd=REPO).stdout.split()
    assert "kiosk.live.daemon" in loaded
    assert not [m for m in loaded if room(m) in ("cli", "measure", "admin", "enrollment")], loaded


def test_admin_listing_commands_do_not_load_the_models():
    """`kiosk people list` over SSH must answer without loading dlib, OpenCV or pygame."""
    loaded = subprocess.run([sys.executable, "-c", "import sys, kiosk.cli.people, kiosk.cli.admin; "
                             "print(' '.join(sys.modules))"],
                            capture_output=True, text=True, check=True, cwd=REPO).stdout.split()
    assert not {"dlib", "cv2", "pygame"} & set(loaded)


@pytest.mark.slow
def test_the_wheel_holds_every_subpackage(tmp_path):
    """Packaging follows the layout: setuptools finds the subpackages, none is left out."""
    out = tmp_path / "dist"
    build = ("import sys; from setuptools import build_meta; "
             "print(build_meta.build_wheel(sys.argv[1]))")
    source = tmp_path / "source"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(source)], check=True)
    for path in PACKAGE.rglob("*.py"):  # the working tree as it is, committed or not
        target = source / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    (source / "pyproject.toml").write_bytes((REPO / "pyproject.toml").read_bytes())
    wheel = subprocess.run([sys.executable, "-c", build, str(out)], cwd=source, capture_output=True, text=True)
    assert wheel.returncode == 0, wheel.stderr[-2000:]
    names = set(zipfile.ZipFile(out / wheel.stdout.strip().splitlines()[-1]).namelist())
    packages = {str(p.parent.relative_to(REPO)) for p in PACKAGE.rglob("__init__.py")}
    assert {f"{package}/__init__.py" for package in packages} <= names, sorted(names)
    assert {str(p.relative_to(REPO)) for p in PACKAGE.rglob("*.py")} <= names
