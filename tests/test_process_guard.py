"""tests/process_guard.py: a test that starts a process or a browser fails unless marked, so none slips into
`make test-fast`. Each test runs pytest on a small test file (pytester) with only the guard loaded.

These tests start processes themselves (through the inner run), so they carry the marker they check.
"""

import sys
from pathlib import Path

import pytest

from tests import live

pytestmark = pytest.mark.process

PYTHON = repr(sys.executable)


def run(pytester, source, *args):
    pytester.makepyfile(test_inner=source)
    return pytester.runpytest_inprocess("-p", "tests.process_guard", "-p", "no:django", "-p", "no:cacheprovider", *args)


def test_an_unmarked_test_that_runs_a_subprocess_fails(pytester):
    result = run(
        pytester,
        f"""
import subprocess

def test_it():
    subprocess.run([{PYTHON}, "-c", "pass"], check=True)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*this test starts a process but is not marked @pytest.mark.process*", "*-c pass*"])


def test_a_marked_test_that_runs_a_subprocess_passes(pytester):
    result = run(
        pytester,
        f"""
import subprocess
import pytest

@pytest.mark.process
def test_it():
    subprocess.run([{PYTHON}, "-c", "pass"], check=True)
""",
    )
    result.assert_outcomes(passed=1)


def test_a_test_that_starts_nothing_needs_no_marker(pytester):
    result = run(pytester, "def test_it():\n    assert sum([1, 2]) == 3\n")
    result.assert_outcomes(passed=1)


def test_a_shared_library_lookup_is_not_a_process_of_the_test(pytester):
    # ctypes.util.find_library runs gcc/ld/ldconfig: whichever test first imports GDAL's bindings would need a marker.
    result = run(pytester, "import ctypes.util\n\ndef test_it():\n    ctypes.util.find_library('no-such-library')\n")
    result.assert_outcomes(passed=1)


def test_an_asyncio_subprocess_counts(pytester):
    result = run(
        pytester,
        f"""
import asyncio

def test_it():
    async def main():
        process = await asyncio.create_subprocess_exec({PYTHON}, "-c", "pass")
        await process.wait()
    asyncio.run(main())
""",
    )
    result.assert_outcomes(failed=1)


def test_a_fork_counts(pytester):
    result = run(
        pytester,
        """
import multiprocessing

def test_it():
    process = multiprocessing.get_context("fork").Process(target=print)
    process.start()
    process.join()
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*os.fork()*"])


def test_a_multiprocessing_spawn_counts(pytester):
    result = run(
        pytester,
        """
import multiprocessing

def test_it():
    process = multiprocessing.get_context("spawn").Process(target=print)
    process.start()
    process.join()
""",
    )
    result.assert_outcomes(failed=1)


def test_a_process_started_in_a_fixture_counts(pytester):
    result = run(
        pytester,
        f"""
import subprocess
import pytest

@pytest.fixture
def server():
    process = subprocess.Popen([{PYTHON}, "-c", "pass"])
    yield process
    process.wait()

def test_it(server):
    assert server.pid
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*not marked @pytest.mark.process*"])


def test_a_test_reusing_a_module_fixture_that_started_a_process_needs_the_marker_too(pytester):
    # The second test starts nothing itself: the module-scoped server was started for the first.
    result = run(
        pytester,
        f"""
import subprocess
import pytest

@pytest.fixture(scope="module")
def server():
    process = subprocess.Popen([{PYTHON}, "-c", "pass"])
    yield process
    process.wait()

@pytest.mark.process
def test_first(server):
    assert server.pid

def test_second(server):
    assert server.pid
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*test_second*", "*(fixture 'server')*"])


def test_the_former_marker_name_counts_and_is_deselected_with_process(pytester):
    source = f"""
import subprocess
import pytest

@pytest.mark.live_server_process
def test_it():
    subprocess.run([{PYTHON}, "-c", "pass"], check=True)
"""
    run(pytester, source).assert_outcomes(passed=1)
    run(pytester, source, "-m", "not process").assert_outcomes(deselected=1)


@pytest.mark.browser
def test_an_unmarked_browser_launch_fails(pytester):
    from tests.pages.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        live.unavailable(f"needs Debian's chromium at {CHROMIUM}")
    result = run(
        pytester,
        f"""
import pytest
from playwright.sync_api import sync_playwright

@pytest.mark.process
def test_it():
    with sync_playwright() as playwright:
        playwright.chromium.launch(executable_path={CHROMIUM!r}, args={CHROMIUM_ARGS!r}).close()
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*this test starts a browser but is not marked @pytest.mark.browser*"])
