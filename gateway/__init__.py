"""The FlowGate gateway supervisor: runs an OpenTelemetry Collector and manages it over OpAMP.

Plain Python (asyncio, `websockets`, PyYAML and the generated OpAMP protobuf of
`opamp_core.proto` with `opamp_core.framing`); it never imports Django. See docs/gateway.md.
"""

__version__ = "0.1.0"
