#!/usr/bin/env bash
# Set up everything the tests need (apt packages, .venv with all extras) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup-dev.sh test,train,rapidocr
exec .venv/bin/python -m pytest -q "$@"
