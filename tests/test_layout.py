"""The layout's promises: one package name, no import cycle, front ends that import only downward."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from ctframe import PROJECT_ROOT

# Installed package name → folder in the repository (pyproject.toml's package-dir).
PACKAGES = {"ctframe": PROJECT_ROOT / "ctframe", "ctframe.features": PROJECT_ROOT / "features",
            "ctframe.train": PROJECT_ROOT / "train"}
SPINE = {"ctframe.train." + name for name in ("config", "schema", "labels", "dataset", "model", "evaluate", "evidence",
                                              "fit", "tracking")}
WINGS = ("ctframe.train.serving", "ctframe.train.labeling", "ctframe.train.search")


def modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if package == "ctframe" and len(parts) > 1:
                continue
            name = ".".join((package, *parts))
            found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file (top level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        out |= {t for t in targets if t in known and t != name}
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def test_every_module_is_found(graph):
    assert {"ctframe", "ctframe.features.hashing", "ctframe.train.fit", "ctframe.train.families.linear",
            "ctframe.train.serving.score", "ctframe.train.labeling.queue", "ctframe.train.search.compare"} <= set(graph)


def test_no_import_cycle(graph):
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                raise AssertionError(f"import cycle: {' → '.join(path[path.index(target):] + [target])}")
            if target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])


def test_front_ends_import_only_downward(graph):
    for name, targets in graph.items():
        if name.startswith("ctframe.features") or name == "ctframe":
            assert not any(t.startswith("ctframe.train") for t in targets), f"{name} imports the training code"
        if name in SPINE or name.startswith("ctframe.train.families"):
            assert not any(t.startswith(WINGS) for t in targets), f"spine module {name} imports a front end: {targets}"
        for wing in WINGS:
            if name.startswith(wing):
                others = [t for t in targets if t.startswith(WINGS) and not t.startswith(wing)]
                assert not others, f"{name} imports another wing: {others}"
        if name.startswith("ctframe.train.serving"):
            assert not {"ctframe.train.fit", "ctframe.train.evaluate"} & targets, f"{name} imports training code"


def test_the_cli_holds_no_business_logic(graph):
    tree = ast.parse((PROJECT_ROOT / "train" / "cli.py").read_text(encoding="utf-8"))
    commands = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("cmd_")]
    assert commands and all(len(n.body) <= 6 for n in commands), "a cmd_* function does more than parse and call"


def test_package_name_of_its_own(tmp_path):
    python = sys.executable
    assert subprocess.run([python, "-c", "import ctframe, ctframe.train.cli, ctframe.features.hashing"],
                          cwd=tmp_path).returncode == 0
    for generic in ("train", "features"):
        result = subprocess.run([python, "-c", f"import {generic}"], cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr
