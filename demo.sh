#!/usr/bin/env bash
# Set up a light .venv and run the daemon on the bundled demo video: plates are printed on the
# terminal and appended to ./plate-log/plates.log and plates.jsonl.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup-dev.sh test
exec .venv/bin/edge-alpr run --config config/demo.yaml --print-events "$@"
