"""Nothing stays that nothing uses: settings, environment variables, Celery tasks.

docker/.env.example lists exactly the variables that are read; every FLOWGATE_* setting is read; every Celery
task is queued or scheduled by the project's code (a task only a test sends is dead code).

The reads are found in the code itself (with `ast`): the env_* helpers of settings.py and `os.environ` /
`os.getenv` reads in every module of the project's apps. A variable docker-compose.yml reads counts as read.
A FLOWGATE_* setting counts as read when settings.py itself uses it or a module names it
(`settings.NAME`, `getattr(settings, "NAME")`).
"""

import ast
import importlib
import re
from pathlib import Path

from django.apps import apps
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "flowgate_site" / "settings.py"
# Set by `serve --workers` for the processes it starts (flowgate_site/workers.py), never by an operator.
INTERNAL = {"FLOWGATE_SERVE_REUSE_PORT"}


def env_helpers():
    """The env_str/env_bool/env_int/... helpers settings.py defines."""
    tree = ast.parse(SETTINGS.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("env_")}


def is_os_environ(node):
    return isinstance(node, ast.Attribute) and node.attr == "environ" and getattr(node.value, "id", "") == "os"


def read_argument(node, helpers):
    """The expression naming the variable that `node` reads, or None when `node` reads none."""
    if isinstance(node, ast.Subscript) and is_os_environ(node.value) and isinstance(node.ctx, ast.Load):
        return node.slice
    if not isinstance(node, ast.Call) or not node.args:
        return None
    function = node.func
    name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", "")
    if name in helpers or (name == "getenv" and getattr(function.value, "id", "") == "os"):
        return node.args[0]
    if name == "get" and is_os_environ(function.value):
        return node.args[0]
    return None


def imported_modules(tree):
    """Local name -> module for `import x` and `from package import module` statements."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update({alias.asname or alias.name: alias.name for alias in node.names})
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update({alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names})
    return names


def variable_name(expression, tree):
    """The text of a variable's name: a literal, a module constant, or `module.CONSTANT`; None if computed."""
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return expression.value
    if isinstance(expression, ast.Name):
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == expression.id for t in node.targets):
                return variable_name(node.value, tree)
    if isinstance(expression, ast.Attribute) and isinstance(expression.value, ast.Name):
        module = imported_modules(tree).get(expression.value.id)
        if module:
            return getattr(importlib.import_module(module), expression.attr)
    return None


def project_modules():
    """Every module of the project package (settings.py, the server; no app) and of the project's own apps,
    migrations aside."""
    folders = {ROOT / settings.ROOT_URLCONF.split(".")[0]}
    folders |= {Path(app.path) for app in apps.get_app_configs() if Path(app.path).parent == ROOT}
    for folder in sorted(folders):
        yield from (path for path in folder.rglob("*.py") if "migrations" not in path.parts)


def variables_read():
    """{variable: first place read}; computed names (f-strings such as env_str's NAME_FILE) are skipped."""
    helpers = env_helpers()
    found = {}
    for path in project_modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            expression = read_argument(node, helpers)
            name = variable_name(expression, tree) if expression is not None else None
            if name:
                found.setdefault(name, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def listed():
    lines = (ROOT / "docker" / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0].strip() for line in lines if "=" in line and not line.lstrip().startswith("#")}


def read_by_compose():
    return set(re.findall(r"\$\{(\w+)", (ROOT / "docker" / "docker-compose.yml").read_text()))


def test_the_reads_are_found_in_settings_and_in_other_modules():
    read = variables_read()
    assert {"SECRET_KEY", "FLOWGATE_VAR_DIR", "DATABASE_URL", "OPAMP_LOG_LEVEL"} <= set(read)
    assert read["FLOWGATE_SERVE_REUSE_PORT"].startswith("flowgate_site/serve.py")


def test_every_variable_the_portal_reads_is_in_the_env_example():
    missing = {name: place for name, place in variables_read().items() if name not in listed() | INTERNAL}
    assert not missing, f"read but not in docker/.env.example: {missing}"


def test_every_variable_in_the_env_example_is_read():
    unread = listed() - set(variables_read()) - read_by_compose()
    assert not unread, f"in docker/.env.example but read by nothing: {sorted(unread)}"


def flowgate_settings():
    tree = ast.parse(SETTINGS.read_text())
    targets = [target for node in tree.body if isinstance(node, ast.Assign) for target in node.targets]
    return {target.id for target in targets if isinstance(target, ast.Name) and target.id.startswith("FLOWGATE_")}


def names_used():
    """Names settings.py reads, and attribute names and strings every other project module uses."""
    used = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            used.add(node.id)
    for path in project_modules():
        if path == SETTINGS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                used.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                used.add(node.value)
    return used


def test_every_flowgate_setting_is_read():
    assert "FLOWGATE_MAX_CONFIG_BYTES" in flowgate_settings()
    unread = sorted(flowgate_settings() - names_used())
    assert not unread, f"settings that nothing reads: {unread}"


def tasks_defined():
    """{"app.tasks.name"} of every function a local app's tasks.py decorates as a Celery task."""
    found = set()
    for path in project_modules():
        if path.name != "tasks.py":
            continue
        for node in ast.parse(path.read_text()).body:
            decorators = [getattr(item, "func", item) for item in getattr(node, "decorator_list", [])]
            if any(getattr(item, "id", getattr(item, "attr", "")) in ("shared_task", "task") for item in decorators):
                found.add(f"{path.parent.name}.tasks.{node.name}")
    return found


def names_in(tree):
    """Dotted names a module uses: its strings, `module.attribute` of modules it imports, names it imports."""
    modules = imported_modules(tree)
    names = set(modules.values())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            names.add(f"{modules[node.value.id]}.{node.attr}")
    return names


def tasks_used():
    """Tasks named by the project's modules (beat schedule strings, `tasks.name.delay(...)`, imports), a tasks
    module's own uses of its tasks aside (a task that re-queues itself has no other caller for that)."""
    used = set()
    for path in project_modules():
        names = names_in(ast.parse(path.read_text()))
        if path.name == "tasks.py":
            names = {name for name in names if not name.startswith(f"{path.parent.name}.tasks.")}
        used |= names
    return used


def test_every_celery_task_is_queued_or_scheduled_by_the_project():
    assert "deployments_app.tasks.advance_rollout" in tasks_defined()
    unused = sorted(tasks_defined() - tasks_used())
    assert not unused, f"tasks that only tests send: {unused}"
