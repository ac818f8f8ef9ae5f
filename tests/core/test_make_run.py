"""`make run`, as the Makefile spells it (`make -n`): DEBUG off unless asked, and a banner pointing to the pages.

A new user's first hour: the banner sent people to /admin/ (Django's admin, not the operator pages) and the server
ran with DEBUG on, so a mistyped URL showed Django's debug page instead of the product's own 404.
"""

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.process  # make, in dry-run mode

ROOT = Path(__file__).resolve().parents[2]


def dry_run(*arguments):
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "run", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},  # no DEBUG or SECRET_KEY from this shell
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def server_line(output):
    (line,) = [line for line in output.splitlines() if "flowgate_site.serve" in line]
    return line


def test_make_run_serves_with_debug_off_and_a_generated_secret_key():
    output = dry_run()
    for line in [server_line(output)] + [line for line in output.splitlines() if "manage.py" in line]:
        assert "DEBUG=false" in line and "SECRET_KEY_FILE=var/secret_key" in line, line
        # Plain HTTP on this machine: no redirect to HTTPS, cookies that a http:// page can use.
        assert "SECURE_SSL_REDIRECT=false" in line and "SESSION_COOKIE_SECURE=false" in line, line


def test_debug_and_the_secret_key_can_still_be_given():
    line = server_line(dry_run("DEBUG=true", "SECRET_KEY=from-the-environment"))
    assert "DEBUG=true" in line and "SECRET_KEY_FILE" not in line


def test_the_banner_points_to_the_operator_pages():
    (banner,) = [line for line in dry_run("PORT=8123").splitlines() if line.startswith("echo ")]
    assert "http://127.0.0.1:8123/ " in banner and "/admin/" not in banner
