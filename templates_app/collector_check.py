"""The deep check: `<collector> validate --config <file>` run on a config FlowGate already accepted.

Optional: it runs only when settings.FLOWGATE_COLLECTOR_BINARY names a collector binary. The
collector resolves `${...}` references (environment variables, files, URLs) while loading a config,
so a config holding any is not given to it: the check is skipped and says why. The binary runs with
an empty environment, in a scratch directory, with a timeout.
"""

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

NOT_REQUESTED = "not_requested"
SKIPPED = "skipped"
UNAVAILABLE = "unavailable"
PASSED = "passed"
FAILED = "failed"
TIMED_OUT = "timed_out"
STATUSES = (NOT_REQUESTED, SKIPPED, UNAVAILABLE, PASSED, FAILED, TIMED_OUT)

MAX_MESSAGE_CHARS = 4000
REFERENCE_RE = re.compile(r"\$\{[^}]*\}")
# The collector prints its error twice: as "Error: ..." and in this closing log line.
_CLOSING_LINE = re.compile(r"^\S+ \S+ collector server run finished with error:")


@dataclass(frozen=True)
class DeepCheck:
    """What the deep check did (`status`, one of STATUSES) and the collector's message."""

    status: str
    message: str = ""

    def as_dict(self):
        return {"status": self.status, "message": self.message}


def _clean_output(output):
    lines = [line for line in output.splitlines() if not _CLOSING_LINE.match(line)]
    text = "\n".join(lines).strip()
    text = text.removeprefix("Error: ").strip()
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + " …"
    return text or "The collector refused the configuration without a message."


def run_collector_validate(text, *, binary, timeout):
    """Run `binary validate --config <text in a file>` and return a DeepCheck."""
    reference = REFERENCE_RE.search(text)
    if reference:
        return DeepCheck(
            SKIPPED,
            f"The config holds the reference {reference.group(0)!r}: the collector would resolve it (environment, "
            "files, URLs) on this server, so it is not run on such configs.",
        )
    with tempfile.TemporaryDirectory(prefix="flowgate-validate-") as scratch:
        config = Path(scratch) / "config.yaml"
        config.write_text(text)
        try:
            completed = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
                [str(binary), "validate", "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=timeout,
                env={},
                cwd=scratch,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return DeepCheck(TIMED_OUT, f"The collector did not finish validating within {timeout} seconds.")
        except OSError as exc:
            return DeepCheck(UNAVAILABLE, f"The collector binary {binary} could not be run: {exc.strerror or exc}.")
    if completed.returncode == 0:
        return DeepCheck(PASSED, "The collector accepts this configuration.")
    return DeepCheck(FAILED, _clean_output(completed.stderr + completed.stdout))
