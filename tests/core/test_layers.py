"""The import graph of the Django apps has no cycle: computed from the code itself, with ast.

Every import counts, those inside functions too: an import put in a function to dodge a circular
import is still a dependency, and two apps that import each other can be neither understood nor
moved apart alone. `.importlinter` (run by `make lint`) says which way imports may run between the
layers; this test says, whatever the contracts allow, that no apps depend on each other in a loop
and that the modules of deployments_app (the rollout engine, its tasks and services) form no loop.
"""

import ast
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]


def local_packages():
    """The project package and the top-level package of every local app in INSTALLED_APPS."""
    names = {config.name.split(".")[0] for config in apps.get_app_configs() if Path(config.path).parent == ROOT}
    return sorted(names | {"flowgate_site"})


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(packages):
    """{module name: source path} of every .py file in the packages."""
    return {module_name(path): path for package in packages for path in sorted((ROOT / package).rglob("*.py"))}


def imports_in(source, module, is_package=False):
    """[(imported name, line)] of every import statement in the source, nested ones included.

    `from a import b` gives "a.b" (b may be a module) and "a"; relative imports are made absolute.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".") if is_package else module.split(".")[:-1]
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join(parent + ([node.module] if node.module else []))
            found.append((base, node.lineno))
            found.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names)
    return found


def graph(modules, node_of):
    """{node: {other node: "module:line" of the first import}}; `node_of(name)` maps a module to its node or None."""
    edges = {}
    for module, path in modules.items():
        source = node_of(module)
        for name, line in imports_in(path.read_text(), module, is_package=path.name == "__init__.py"):
            target = node_of(name)
            if target is not None and target != source:
                edges.setdefault(source, {}).setdefault(target, f"{module}:{line}")
    return edges


def cycles(edges):
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def describe(edges, component):
    """The imports that close the loop, e.g. "a -> b (a.views:12)"."""
    members = set(component)
    return [
        f"{source} -> {target} ({where})"
        for source in component
        for target, where in sorted(edges.get(source, {}).items())
        if target in members
    ]


def test_no_apps_import_each_other_in_a_loop():
    packages = local_packages()
    assert {"core_app", "templates_app", "gateways_app", "deployments_app", "opamp_app"} <= set(packages)

    def app_of(name):
        top = name.split(".")[0]
        return top if top in packages else None

    edges = graph(modules_of(packages), app_of)
    loops = [describe(edges, component) for component in cycles(edges)]
    assert not loops, f"apps that import each other (directly or round a loop): {loops}"


def test_the_modules_of_deployments_app_form_no_loop():
    modules = modules_of(["deployments_app"])

    def module_of(name):
        # "deployments_app.rollout.Run" is the module deployments_app.rollout.
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = graph(modules, module_of)
    loops = [describe(edges, component) for component in cycles(edges)]
    assert not loops, f"deployments_app modules that import each other: {loops}"


def test_a_loop_through_a_function_level_import_is_found():
    # The shape deployments_app had: services imports rollout at the top, rollout imports services in a function.
    services = "from app import rollout\n"
    rollout = "def start():\n    from app.services import assign\n"
    imports = {"app.services": imports_in(services, "app.services"), "app.rollout": imports_in(rollout, "app.rollout")}
    edges = {}
    for module, found in imports.items():
        for name, line in found:
            target = name if name in imports else name.rpartition(".")[0]
            if target in imports and target != module:
                edges.setdefault(module, {}).setdefault(target, f"{module}:{line}")
    assert cycles(edges) == [["app.rollout", "app.services"]]
    assert describe(edges, ["app.rollout", "app.services"]) == [
        "app.rollout -> app.services (app.rollout:2)",
        "app.services -> app.rollout (app.services:1)",
    ]


def test_relative_imports_are_made_absolute():
    assert ("deployments_app.rollout", 1) in imports_in("from . import rollout\n", "deployments_app.tasks")
    assert ("deployments_app.models", 1) in imports_in("from ..models import X\n", "deployments_app.api.views")
    assert ("deployments_app.api.views", 1) in imports_in("from .views import V\n", "deployments_app.api", True)
