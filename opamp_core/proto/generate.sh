#!/usr/bin/env sh
# Regenerate the Python protobuf modules of opamp_core/proto from our .proto files.
# Usage (from anywhere): opamp_core/proto/generate.sh   — or `make proto`.
# PYTHON may point at another interpreter that has grpcio-tools installed.
#
# protoc runs with the repository root as its only include path, so the .proto files are
# known as opamp_core/proto/*.proto and the generated code imports its sibling as
# `from opamp_core.proto import anyvalue_pb2` (a package import, not a top-level one).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-"$ROOT/.venv/bin/python"}

cd "$ROOT"
"$PYTHON" -m grpc_tools.protoc \
    -I . \
    --python_out=. \
    --pyi_out=. \
    opamp_core/proto/anyvalue.proto \
    opamp_core/proto/opamp.proto
echo "generated: $(ls opamp_core/proto/*_pb2.py opamp_core/proto/*_pb2.pyi | tr '\n' ' ')"
