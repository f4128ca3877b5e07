"""The repository's shape, checked: every package is installed, tests mirror the source tree,
and no function grows past what one can hold in one's head (~60 lines of body)."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PARTS = ("pipeline", "models", "stages", "deploy")
MAX_BODY = 60
#: numeric or drawing kernels, long by nature: (file, function) → why
KERNELS = {
    ("models/layers/triton_attention.py", "_attn_fwd"): "a Triton kernel: one program, split it and it stops being one",
    ("models/data/icons.py", "_draw"): "a table of icon drawings, one branch per icon; the shipped icon model's data depends on it",
}


def _sources() -> list[Path]:
    return sorted(p for part in PARTS for p in (REPO / part).rglob("*.py") if "__pycache__" not in p.parts)


def test_every_package_folder_is_a_listed_package():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {p.parent for p in _sources()}
    for folder in folders:
        assert (folder / "__init__.py").is_file(), f"{folder.relative_to(REPO)} holds modules but no __init__.py"
    found = {"sensorium." + ".".join(f.relative_to(REPO).parts) for f in folders}
    assert found == listed, f"pyproject.toml packages: missing {sorted(found - listed)}, stale {sorted(listed - found)}"


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    return node.end_lineno - body[0].lineno + 1


def test_no_function_body_is_over_sixty_lines():
    long = []
    for path in _sources():
        rel = str(path.relative_to(REPO))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (rel, node.name) not in KERNELS:
                if (n := _body_lines(node)) > MAX_BODY:
                    long.append(f"{rel}:{node.lineno} {node.name}: {n} lines")
    assert not long, "split these (or name them in KERNELS with the reason):\n" + "\n".join(long)


def _module_for(test: Path) -> list[Path]:
    """The source paths a test file may mirror: tests/a/b/test_c_d.py → a/b/c_d.py, a/b/c_d/, a/b/c.py, a/b/c/."""
    rel = test.relative_to(REPO / "tests")
    words = rel.stem.removeprefix("test_").split("_")
    out = []
    for k in range(len(words), 0, -1):
        name = "_".join(words[:k])
        out += [REPO / rel.parent / f"{name}.py", REPO / rel.parent / name]
    return out


@pytest.mark.parametrize("part", PARTS)
def test_tests_mirror_the_source_tree(part):
    """Every test file under tests/PART names a module or package beside it in PART (scenario
    tests live in tests/e2e)."""
    stray = [str(t.relative_to(REPO)) for t in sorted((REPO / "tests" / part).rglob("test_*.py"))
             if not any(p.exists() for p in _module_for(t))]
    assert not stray, f"tests that mirror no module: {stray}"


#: the stage contract: what every stage, engine and the REST service share
CONTRACT = ("stages/base.py", "stages/config.py", "stages/frame.py", "stages/arrays.py", "stages/camera.py", "stages/images.py", "stages/results")


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
            out.add(node.module)
    return out


def test_the_stage_contract_imports_only_numpy_cv2_the_standard_library_and_itself():
    """What the import-linter contract forbids by name, checked the other way round: an allow-list."""
    own = {"sensorium.stages." + p.removeprefix("stages/").removesuffix(".py").replace("/", ".") for p in CONTRACT}
    files = [f for c in CONTRACT for f in ([REPO / c] if c.endswith(".py") else sorted((REPO / c).rglob("*.py")))]
    bad = {}
    for f in files:
        for name in _imports(f):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ("numpy", "cv2") or any(name == o or name.startswith(o + ".") for o in own):
                continue
            bad.setdefault(str(f.relative_to(REPO)), []).append(name)
    assert not bad, f"the stage contract imports more than numpy, cv2 and the standard library: {bad}"

