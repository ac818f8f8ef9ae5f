"""The supervisor runs on hosts without Django: importing it must not pull Django in."""

import subprocess
import sys

from tests.live import ROOT


def test_the_supervisor_imports_no_django():
    code = "import sys, gateway.__main__, gateway.supervisor; print('django' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
