"""The layering of docs/architecture.md, checked: no module imports a layer above its own.

A small AST walk over every module (imports inside functions included), rather than import-linter:
the rules are a dozen lines here, need no configuration language and no extra dependency, and the
failure names the file, the line and the arrow that points up.
"""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Bottom up: a module may import its own layer and those below, never one above.
APP_LAYERS = [
    "plugtrack_site", "jobs", "settings_app", "cars_app", "sessions_app", "tariffs", "statements", "backups",
    "webhooks", "api",
]
# Inside sessions_app, bottom up: the domain, the import machinery, then the interfaces on top.
SESSIONS_LAYERS = {
    "domain": ["models", "bounds", "plausibility", "services", "totals", "analytics"],
    "imports": ["imports"],
    "interfaces": ["admin", "forms", "demo", "management", "apps", "migrations", "templatetags"],
}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in the file, relative ones made absolute."""
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.append((node.lineno, target))
            if node.module is None:  # from . import x: each x may be a module
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def _app_files():
    for app in APP_LAYERS:
        yield from (REPO / app).rglob("*.py")


def _sessions_layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "sessions_app" or len(parts) < 2:
        return None
    for level, names in enumerate(SESSIONS_LAYERS.values()):
        if parts[1] in names:
            return level
    return None


def test_no_app_imports_an_app_above_it():
    upward = []
    for path in _app_files():
        own = APP_LAYERS.index(path.relative_to(REPO).parts[0])
        for line, target in _imports(path):
            root = target.split(".")[0]
            if root in APP_LAYERS and APP_LAYERS.index(root) > own:
                upward.append(f"{path.relative_to(REPO)}:{line} imports {target}")
    assert not upward, "imports against the layering (docs/architecture.md):\n" + "\n".join(upward)


def test_inside_sessions_app_the_domain_imports_no_machinery_and_the_machinery_no_interface():
    upward = []
    for path in (REPO / "sessions_app").rglob("*.py"):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        own = _sessions_layer(module)
        if own is None:
            continue
        for line, target in _imports(path):
            level = _sessions_layer(target)
            if level is not None and level > own:
                upward.append(f"{path.relative_to(REPO)}:{line} imports {target}")
    assert not upward, "imports against sessions_app's layering:\n" + "\n".join(upward)


def test_other_apps_use_the_import_machinery_through_its_public_surface_only():
    inside = []
    for path in _app_files():
        if path.relative_to(REPO).parts[0] == "sessions_app":
            continue
        inside += [f"{path.relative_to(REPO)}:{line} imports {target}" for line, target in _imports(path)
                   if target.startswith("sessions_app.imports.")]  # fmt: skip
    assert not inside, "use sessions_app.imports, not its modules:\n" + "\n".join(inside)


def test_every_top_level_module_of_sessions_app_has_a_layer():
    """A new module is placed in the layering on purpose (and sessions_app stays at most 12 modules)."""
    modules = sorted(path.stem for path in (REPO / "sessions_app").glob("*.py") if path.stem != "__init__")
    packages = sorted(path.name for path in (REPO / "sessions_app").iterdir() if (path / "__init__.py").exists())
    placed = {name for names in SESSIONS_LAYERS.values() for name in names}
    assert set(modules + packages) <= placed, set(modules + packages) - placed
    assert len(modules) + 1 <= 12, modules  # (with __init__.py)


def test_no_test_patches_another_apps_private_names():
    """A test may stand in for its own app's internals, never another app's: those change without notice."""
    patched = re.compile(r"""setattr\(\s*["']([a-z_]+)\.[\w.]*\._\w+["']""")
    crossing = []
    for path in (REPO / "tests").rglob("test_*.py"):
        own = path.relative_to(REPO / "tests").parts[0]
        crossing += [f"{path.relative_to(REPO)}: patches {match[0]}'s private {match.group(0)}"
                     for match in patched.finditer(path.read_text()) if match[1] != own]  # fmt: skip
    assert not crossing, "\n".join(crossing)
