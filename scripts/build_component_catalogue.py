"""Build templates_app/data/otelcol-contrib-components-v<version>.json from a catalogue TSV.

The TSV (columns kind, type, module, source) lists every component module of one upstream
otelcol-contrib release with the type name used in collector YAML; the one in use is kept in
scripts/data/otelcol-contrib/ (its README says where it comes from). Validation uses the JSON as
the available components of gateways that did not report their own (docs/deployments.md).

    python scripts/build_component_catalogue.py            # from scripts/data/otelcol-contrib/components-v0.130.0.tsv
    python scripts/build_component_catalogue.py other.tsv  # another release's components-v<version>.tsv

The version is read from the file name; the output goes next to templates_app/components.py.
Run it again (and commit the TSV and the result) when moving to another release."""

import csv
import json
import re
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "templates_app" / "data"
SOURCE_TSV = Path(__file__).resolve().parent / "data" / "otelcol-contrib" / "components-v0.130.0.tsv"
KINDS = {
    "receiver": "receivers",
    "processor": "processors",
    "exporter": "exporters",
    "extension": "extensions",
    "connector": "connectors",
}


def build(tsv_path):
    """The catalogue as a JSON-able dict: distribution, version and sorted type names per section."""
    match = re.search(r"components-v(\d+\.\d+\.\d+)\.tsv$", str(tsv_path))
    if not match:
        raise SystemExit(f"Expected a file named components-v<version>.tsv, got {tsv_path}")
    sections = {section: set() for section in KINDS.values()}
    with open(tsv_path, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            sections[KINDS[row["kind"]]].add(row["type"])
    return {
        "distribution": "otelcol-contrib",
        "version": match.group(1),
        "source": "open-telemetry/opentelemetry-collector-releases distributions/otelcol-contrib/manifest.yaml",
        "components": {section: sorted(types) for section, types in sections.items()},
    }


def output_path(catalogue):
    return DATA_DIR / f"{catalogue['distribution']}-components-v{catalogue['version']}.json"


def render(catalogue):
    return json.dumps(catalogue, indent=2, sort_keys=True) + "\n"


def main(argv):
    if len(argv) > 2:
        raise SystemExit(__doc__)
    catalogue = build(argv[1] if len(argv) == 2 else SOURCE_TSV)
    path = output_path(catalogue)
    path.write_text(render(catalogue))
    counts = ", ".join(f"{len(types)} {section}" for section, types in catalogue["components"].items())
    print(f"wrote {path} ({counts})")


if __name__ == "__main__":
    main(sys.argv)
