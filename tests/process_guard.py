"""A pytest plugin that fails a test which starts a process or a browser without saying so.

`make test-fast` leaves out the tests marked `process` (they start a server, a Celery worker, a collector, pip,
redis-server... any subprocess) and `browser` (they drive Chromium). A marker that is forgotten would put a slow
test in the fast tier, so the marks are checked while the tests run rather than trusted:

- for the whole session, `subprocess.Popen` (which `subprocess.run`, `asyncio.create_subprocess_exec` and
  `os.popen` go through), `os.fork`, `os.posix_spawn(p)`, `os.system` and multiprocessing's spawn are wrapped, as are
  Playwright's `BrowserType.launch*` (sync and async); a call while a test runs (its setup, call or teardown) is
  counted against that test;
- a fixture during whose setup a process started is remembered, so a later test that only reuses it (a
  module-scoped live server started by an earlier test) needs the marker too;
- a test that started one (or uses such a fixture) without the matching marker fails, naming what it started.

Playwright's own driver process counts as the browser, not as a process. `ctypes.util.find_library`, which runs
gcc/ld/ldconfig to locate a shared library (GDAL, when drf-spectacular first builds the schema), is a lookup inside
whichever test happens to come first, not a process the test starts: it is left out. `live_server_process`, the
former name of `process`, is still accepted (it is given the `process` marker at collection, so `-m` selects it alike).
"""

import functools
import inspect
import multiprocessing.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROCESS = "process"
BROWSER = "browser"
FORMER_PROCESS = "live_server_process"


def _playwright_roots():
    try:
        import playwright
    except ImportError:
        return ()
    package = Path(playwright.__file__).parent
    return tuple({str(package), str(package.resolve())})


PLAYWRIGHT_ROOTS = _playwright_roots()  # its driver (node) runs from inside the package


def _describe(args):
    if isinstance(args, str | bytes | os.PathLike):
        return os.fsdecode(args) if not isinstance(args, str) else args
    return " ".join(os.fsdecode(arg) if isinstance(arg, bytes | os.PathLike) else str(arg) for arg in args)


LOOKUPS = (os.path.join("ctypes", "util.py"),)  # modules whose subprocesses only look something up


def _in_a_lookup():
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith(LOOKUPS):
            return True
        frame = frame.f_back
    return False


def _kind_of(command):
    if PLAYWRIGHT_ROOTS and command.startswith(PLAYWRIGHT_ROOTS):
        return BROWSER
    return PROCESS


class Guard:
    """What each test of one pytest run started; the wrappers report to it while it is installed."""

    def __init__(self):
        self.item = None
        self.fixtures = []  # (baseid, argname) of the fixtures being set up, outermost first
        self.started = {}  # nodeid -> [(kind, what)]
        self.fixture_starts = {}  # (baseid, argname) -> (kind, what)
        self.reported = set()  # nodeids already failed for it
        self.patcher = pytest.MonkeyPatch()

    def install(self):
        for owner, name, original in _targets():
            self.patcher.setattr(owner, name, self._wrap(original, name))

    def uninstall(self):
        self.patcher.undo()

    def record(self, kind, what):
        """Count a started process or browser against the running test and the fixtures being set up."""
        if self.item is None or _in_a_lookup():
            return
        what = what[:200]
        self.started.setdefault(self.item.nodeid, []).append((kind, what))
        for key in self.fixtures:
            self.fixture_starts.setdefault(key, (kind, what))

    def _wrap(self, original, name):
        guard = self
        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def wrapper_async(*args, **kwargs):
                guard.record(*_classify(name, args, kwargs))
                return await original(*args, **kwargs)

            return wrapper_async

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            guard.record(*_classify(name, args, kwargs))
            return original(*args, **kwargs)

        return wrapper

    def unmarked_starts(self, item):
        """What `item` started, or uses a fixture that started, without the marker that says so."""
        starts = list(self.started.get(item.nodeid, []))
        names = getattr(item, "fixturenames", ())
        for (baseid, argname), (kind, what) in self.fixture_starts.items():
            if argname in names and item.nodeid.startswith(baseid):
                starts.append((kind, f"{what} (fixture {argname!r})"))
        return [(kind, what) for kind, what in dict.fromkeys(starts) if not item.get_closest_marker(kind)]

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items):
        # Before `-m` deselects: a test still marked with the former name is a `process` test.
        for item in items:
            if item.get_closest_marker(FORMER_PROCESS) and not item.get_closest_marker(PROCESS):
                item.add_marker(PROCESS)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.item = item
        try:
            return (yield)
        finally:
            self.item = None
            self.fixtures = []
            self.started.pop(item.nodeid, None)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        key = (fixturedef.baseid, fixturedef.argname)
        self.fixtures.append(key)
        try:
            return (yield)
        finally:
            self.fixtures.remove(key)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if item.nodeid in self.reported or not (report.passed or (report.when == "call" and report.failed)):
            return report
        missing = self.unmarked_starts(item)
        if missing:
            self.reported.add(item.nodeid)
            kinds = sorted({kind for kind, _ in missing})
            marks = " and ".join(f"@pytest.mark.{kind}" for kind in kinds)
            lines = "\n".join(f"  {kind}: {what}" for kind, what in missing)
            message = f"this test starts a {' and a '.join(kinds)} but is not marked {marks}:\n{lines}"
            report.outcome = "failed"
            report.longrepr = message if report.longrepr is None else f"{report.longrepr}\n\n{message}"
        return report


def _targets():
    """(owner, attribute, original) of everything that starts a process or a browser."""
    targets = [(subprocess.Popen, "__init__", subprocess.Popen.__init__)]
    for name in ("fork", "forkpty", "system", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            targets.append((os, name, getattr(os, name)))
    # multiprocessing's "spawn" and "forkserver" start their interpreters here, past Popen and os.fork.
    targets.append((multiprocessing.util, "spawnv_passfds", multiprocessing.util.spawnv_passfds))
    if PLAYWRIGHT_ROOTS:
        from playwright.async_api import BrowserType as AsyncBrowserType
        from playwright.sync_api import BrowserType

        for owner in (BrowserType, AsyncBrowserType):
            for name in ("launch", "launch_persistent_context"):
                targets.append((owner, name, getattr(owner, name)))
    return targets


def _classify(name, args, kwargs):
    """(kind, what) of one call to a wrapped function."""
    if name in ("launch", "launch_persistent_context"):
        browser_type = args[0]
        return BROWSER, f"{browser_type.name} ({kwargs.get('executable_path') or 'bundled'})"
    if name == "__init__":  # Popen(self, args, ...)
        command = _describe(args[1] if len(args) > 1 else kwargs.get("args", ""))
    elif name in ("posix_spawn", "posix_spawnp", "system"):
        command = _describe(args[0] if args else "")
    elif name == "spawnv_passfds":  # (path, args, passfds)
        command = _describe(args[1] if len(args) > 1 else args[0])
    else:
        command = f"os.{name}()"
    return _kind_of(command), command


@pytest.hookimpl
def pytest_configure(config):
    config.addinivalue_line("markers", f"{PROCESS}: starts a process (server, worker, collector, pip, any subprocess)")
    config.addinivalue_line("markers", f"{BROWSER}: launches a browser (Playwright)")
    config.addinivalue_line("markers", f"{FORMER_PROCESS}: the former name of the `{PROCESS}` marker")
    guard = Guard()
    guard.install()
    config.pluginmanager.register(guard, "process-guard")


@pytest.hookimpl
def pytest_unconfigure(config):
    guard = config.pluginmanager.get_plugin("process-guard")
    if guard is not None:
        guard.uninstall()
