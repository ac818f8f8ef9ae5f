"""Desired config against effective config, by meaning: what the gateway page says about the two texts.

The supervisor writes the config it runs with its own YAML dumper (gateway/configs.py), merged over
the gateway's base config, so the effective text almost never equals the desired text even when
the collector runs exactly what was asked. A line diff of the two texts then shows red and green
lines that mean nothing. Here both are parsed (YAML: mapping order, quoting, comments and layout do
not count; list order does) and compared:

- "same_text": identical texts;
- "same_meaning": same parsed config, different formatting (the raw diff is kept, folded away);
- "superset": the effective config holds all of the desired one, plus settings of the gateway's
  own (its base config): every desired mapping key is there with the same value;
- "different": the meaning differs; the diff shown is between canonical renderings of both
  (sorted keys, one layout), so that it lists meaning changes only;
- "unparsable": one text is not YAML: only the raw diff can be shown.

Drift (Gateway.has_config_drift(), GatewayQuerySet.drifted()) is another question, answered
without any text: does the agent acknowledge the desired config's hash (it echoes the hash it was
sent, whatever its formatting)?
"""

import difflib
from dataclasses import dataclass, field

import yaml

from core_app.diffview import unified_rows


@dataclass
class Comparison:
    kind: str  # see the module docstring
    raw_diff: list = field(default_factory=list)  # core_app.diffview.Line rows, desired -> effective texts
    meaning_diff: list = field(default_factory=list)  # the same, of the canonical renderings

    @property
    def same_meaning(self) -> bool:
        return self.kind in ("same_text", "same_meaning")


def compare(desired: str, effective: str) -> Comparison | None:
    """How `effective` relates to `desired`; None when either is empty (nothing to compare)."""
    if not (desired and effective):
        return None
    if desired == effective:
        return Comparison("same_text")
    raw = diff_rows(desired, effective)
    try:
        wanted, running = yaml.safe_load(desired), yaml.safe_load(effective)
    except yaml.YAMLError:
        return Comparison("unparsable", raw_diff=raw)
    if wanted == running:
        return Comparison("same_meaning", raw_diff=raw)
    meaning = diff_rows(canonical(wanted), canonical(running))
    return Comparison("superset" if contains(running, wanted) else "different", raw_diff=raw, meaning_diff=meaning)


def contains(running, wanted) -> bool:
    """Whether `running` holds `wanted`: mappings key by key (extra keys allowed), anything else equal."""
    if isinstance(wanted, dict) and isinstance(running, dict):
        return all(key in running and contains(running[key], value) for key, value in wanted.items())
    return running == wanted


def canonical(config) -> str:
    """One rendering for one meaning: sorted keys, block style."""
    return yaml.safe_dump(config, sort_keys=True, default_flow_style=False, allow_unicode=True)


def diff_rows(old: str, new: str) -> list:
    """Rows of the unified diff from `old` to `new` ([] when equal)."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile="desired", tofile="effective", lineterm=""
    )
    return unified_rows("\n".join(lines))
