"""The library's layout holds: layers import only downward, no import cycle, no import of the library
inside a function (a late import hides a cycle), no import-time side effect on another module.

Static (ast), so it costs nothing: every module of quake_lib is parsed, not imported.
"""
import ast
from pathlib import Path

import pytest

from quake_lib import paths

PACKAGE = paths.ROOT / "quake_lib"
# Lower layers never import higher ones. The registry of approaches is plain data that every layer
# may read; the command line and the submission sit on top of everything.
LAYERS = [
    {"constants", "paths", "atomic", "quiet", "progress", "threads", "profiles", "approaches.registry"},
    {"features"},
    {"data"},
    {"models"},
    {"evaluation"},
    {"train"},
    {"approaches"},
    {"studies"},
    {"figures"},
    {"report"},
    {"cli", "submit", "__main__"},
]
# the command line imports each command's modules when that command runs, so that `--help` is instant
LAZY_OK = {"cli"}


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """Library modules a ``from ... import ...`` names (relative or absolute)."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        target = ".".join([*base, node.module] if node.module else base).strip(".")
    elif node.module and node.module.split(".")[0] == "quake_lib":
        target = node.module[len("quake_lib"):].strip(".")
    else:
        return []
    known = modules()
    submodules = [f"{target}.{a.name}".strip(".") for a in node.names if f"{target}.{a.name}".strip(".") in known]
    # ``from pkg import submodule`` runs pkg/__init__ too, but each of this library's __init__ imports
    # only its own package: the edge that matters is the one to the submodule
    return submodules if len(submodules) == len(node.names) else [target, *submodules]


def imports(module: str, path: Path, top_level_only: bool):
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            found += resolve(module, path.name == "__init__.py", node)
        elif isinstance(node, ast.Import):
            found += [a.name[len("quake_lib."):] for a in node.names if a.name.startswith("quake_lib.")]
    known = modules()
    return sorted({f for f in found if f in known and f != module})


def layer(module: str) -> int:
    """The layer of the longest name in LAYERS that is ``module`` or a package holding it."""
    matches = [(len(n), i) for i, names in enumerate(LAYERS) for n in names
               if module == n or module.startswith(n + ".")]
    assert matches, f"quake_lib.{module} is in no layer of tests/test_layout.py"
    return max(matches)[1]


MODULES = modules()


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m))
def test_layers_import_only_downward(module):
    mine = layer(module)
    upward = [m for m in imports(module, MODULES[module], top_level_only=False) if m and layer(m) > mine]
    assert not upward, f"quake_lib.{module} (layer {mine}) imports higher layers: {upward}"


def test_no_import_cycle():
    graph = {m: [d for d in imports(m, p, top_level_only=True) if d] for m, p in MODULES.items() if m}
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in graph.get(m, []):
            if state.get(d) == 1:
                raise AssertionError(f"import cycle: {' -> '.join([*stack[stack.index(d):], d])}")
            if d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m and m.split(".")[0] not in LAZY_OK))
def test_no_late_import_of_the_library(module):
    tree = ast.parse(MODULES[module].read_text())
    late = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("quake_lib")):
                    late.append(f"line {node.lineno}")
    assert not late, f"quake_lib.{module} imports the library inside a function ({', '.join(late)})"


def test_no_module_changes_another_at_import():
    """No module assigns into another module's objects at import time (e.g. registering into a dict)."""
    offenders = []
    for module, path in MODULES.items():
        imported = set()
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                imported |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                imported |= {(a.asname or a.name).split(".")[0] for a in node.names}
        for node in tree.body:
            call = node.value if isinstance(node, ast.Expr) else None
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                owner = call.func.value
                while isinstance(owner, ast.Attribute):
                    owner = owner.value
                if isinstance(owner, ast.Name) and owner.id in imported and call.func.attr in (
                        "setdefault", "update", "register", "append", "__setitem__"):
                    offenders.append(f"quake_lib.{module} line {node.lineno}")
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    base = t.value if isinstance(t, (ast.Attribute, ast.Subscript)) else None
                    while isinstance(base, (ast.Attribute, ast.Subscript)):
                        base = base.value
                    if isinstance(base, ast.Name) and base.id in imported:
                        offenders.append(f"quake_lib.{module} line {node.lineno}")
    assert not offenders, f"import-time changes to other modules: {offenders}"


def test_approaches_holds_exactly_the_registered_approaches():
    """``approaches/`` is the registry, its protocol and one module per registered approach; experiments that
    use approaches live in ``studies/``."""
    from quake_lib.approaches import registry
    found = {m.split(".", 1)[1] for m in MODULES if m.startswith("approaches.")}
    own = {a.name for a in registry.APPROACHES.values() if a.module is None}
    assert found == own | {"registry", "protocol"}, f"not registered approaches in approaches/: {found - own}"


def test_no_two_modules_share_a_name():
    """No two module files share a name (a package, such as ``models.cpc``, may share one with a module)."""
    names = {}
    for module, path in MODULES.items():
        if module and path.name != "__init__.py":
            names.setdefault(module.split(".")[-1], []).append(module)
    shared = {n: ms for n, ms in names.items() if len(ms) > 1}
    assert not shared, f"modules sharing a name: {shared}"


@pytest.mark.parametrize("module", ["cli", "submit"])
def test_the_entry_points_name_no_approach_arm_or_kind(module):
    """``train`` and ``submit`` go through the registry and the protocol only: no string of theirs is an
    approach, an arm or a kind, and neither reads a kind."""
    from quake_lib.approaches import registry
    names = {a.name for a in registry.APPROACHES.values()} | set(registry.arms())
    names |= {a.kind for a in registry.APPROACHES.values()} | {"net", "lightgbm", "constant"}
    tree = ast.parse(MODULES[module].read_text())
    # the versions printed by --version are of packages, one of which is called lightgbm too
    versions = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "version_text"]
    skip = {id(n) for f in versions for n in ast.walk(f)}
    literals = {n.value for n in ast.walk(tree)
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip}
    assert not literals & names, f"quake_lib.{module} names {sorted(literals & names)}"
    kinds = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "kind"]
    assert not kinds, f"quake_lib.{module} reads an approach's kind (lines {kinds})"
