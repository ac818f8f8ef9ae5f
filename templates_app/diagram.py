"""The pipeline diagram of a collector config: receivers → processors → exporters, per pipeline.

`pipeline_diagram(data)` takes the parsed config (templates_app.services.parse_collector_yaml)
and returns the geometry of an SVG the template draws: one band per `service.pipelines` entry,
receivers stacked on the left, processors chained in order, exporters stacked on the right. A
component a pipeline names but the config does not define is flagged `missing`; one defined under
`connectors:` is drawn as a connector (it links pipelines).
"""

from dataclasses import dataclass, field

NODE_W = 168
NODE_H = 28
H_GAP = 46
V_GAP = 10
TITLE_H = 26
BAND_GAP = 18
LEFT = 12
MAX_LABEL = 22
ROLES = ("receivers", "processors", "exporters")


@dataclass
class Node:
    label: str
    full_name: str
    kind: str  # receivers, processors, exporters or connectors
    x: int
    y: int
    missing: bool = False

    @property
    def text_x(self):
        return self.x + 10

    @property
    def text_y(self):
        return self.y + NODE_H // 2 + 4


@dataclass
class Band:
    name: str
    y: int
    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)  # SVG path strings


@dataclass
class Diagram:
    bands: list
    width: int
    height: int
    node_w: int = NODE_W
    node_h: int = NODE_H


def _names(value):
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def _kind(section, name, data):
    connectors = data.get("connectors")
    if isinstance(connectors, dict) and name in connectors:
        return "connectors", False
    defined = data.get(section)
    return section, not (isinstance(defined, dict) and name in defined)


def _label(name):
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


def _edge(a, b):
    x1, y1 = a.x + NODE_W, a.y + NODE_H // 2
    x2, y2 = b.x, b.y + NODE_H // 2
    bend = H_GAP // 2
    return f"M {x1} {y1} C {x1 + bend} {y1}, {x2 - bend} {y2}, {x2 - 4} {y2}"


def _column(names, section, data, x, top, rows):
    """Nodes of one column, vertically centred in a band of `rows` rows."""
    offset = (rows - len(names)) * (NODE_H + V_GAP) // 2
    nodes = []
    for index, name in enumerate(names):
        kind, missing = _kind(section, name, data)
        y = top + offset + index * (NODE_H + V_GAP)
        nodes.append(Node(_label(name), name, kind, x, y, missing))
    return nodes


def _band(name, pipeline, data, top):
    receivers = _names(pipeline.get("receivers"))
    processors = _names(pipeline.get("processors"))
    exporters = _names(pipeline.get("exporters"))
    rows = max(len(receivers), len(exporters), 1)
    band = Band(name=name, y=top)
    nodes_top = top + TITLE_H
    step = NODE_W + H_GAP
    columns = [_column(receivers, "receivers", data, LEFT, nodes_top, rows)]
    for index, processor in enumerate(processors):
        columns.append(_column([processor], "processors", data, LEFT + step * (index + 1), nodes_top, rows))
    columns.append(_column(exporters, "exporters", data, LEFT + step * (len(processors) + 1), nodes_top, rows))
    for left, right in zip(columns, columns[1:], strict=False):
        band.edges += [_edge(a, b) for a in left for b in right]
    band.nodes = [node for column in columns for node in column]
    height = TITLE_H + rows * (NODE_H + V_GAP)
    return band, height, len(columns)


def pipeline_diagram(data):
    """The Diagram of a parsed collector config (a dict); None when it has no service.pipelines."""
    service = data.get("service") if isinstance(data, dict) else None
    pipelines = service.get("pipelines") if isinstance(service, dict) else None
    if not isinstance(pipelines, dict) or not pipelines:
        return None
    bands, top, widest = [], 6, 1
    for name, pipeline in pipelines.items():
        if not isinstance(pipeline, dict):
            pipeline = {}
        band, height, columns = _band(str(name), pipeline, data, top)
        bands.append(band)
        top += height + BAND_GAP
        widest = max(widest, columns)
    width = LEFT * 2 + widest * NODE_W + (widest - 1) * H_GAP
    return Diagram(bands=bands, width=width, height=top)
