"""Rows for diff pages, read from a unified diff: two template versions (templates_app.services.diff_versions),
a gateway's desired and effective configs (gateways_app.views). A plain library of the core: no model, no app.

`unified_rows(diff)` numbers each line of the unified diff; `side_by_side_rows(diff)` pairs the
removed and added lines of each change so that the old text is on the left, the new on the right.
"""

import re
from dataclasses import dataclass

HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")


@dataclass
class Line:
    kind: str  # "hunk", "context", "add", "del"
    text: str
    old: int | None = None
    new: int | None = None


@dataclass
class Pair:
    kind: str  # "hunk" or "line"
    left: Line | None = None
    right: Line | None = None
    text: str = ""


def unified_rows(diff):
    """Every line of a unified diff after the two file headers, with its old and new line numbers."""
    rows = []
    old = new = 0
    for raw in diff.splitlines():
        if raw.startswith(("--- ", "+++ ")) and not rows:
            continue
        match = HUNK.match(raw)
        if match:
            old, new = int(match.group(1)), int(match.group(2))
            rows.append(Line("hunk", raw))
        elif raw.startswith("+"):
            rows.append(Line("add", raw[1:], new=new))
            new += 1
        elif raw.startswith("-"):
            rows.append(Line("del", raw[1:], old=old))
            old += 1
        elif raw.startswith("\\"):
            continue  # "\ No newline at end of file"
        else:
            rows.append(Line("context", raw[1:], old=old, new=new))
            old += 1
            new += 1
    return rows


def side_by_side_rows(diff):
    """Pairs (left, right) for a two-column view: context on both sides, deletions beside additions."""
    pairs, removed, added = [], [], []

    def flush():
        for index in range(max(len(removed), len(added))):
            left = removed[index] if index < len(removed) else None
            right = added[index] if index < len(added) else None
            pairs.append(Pair("line", left, right))
        removed.clear()
        added.clear()

    for line in unified_rows(diff):
        if line.kind == "del":
            removed.append(line)
        elif line.kind == "add":
            added.append(line)
        else:
            flush()
            if line.kind == "hunk":
                pairs.append(Pair("hunk", text=line.text))
            else:
                pairs.append(Pair("line", line, line))
    flush()
    return pairs
