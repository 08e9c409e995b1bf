#!/usr/bin/env bash
# The demo: builds Sluice and runs it on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(swift build --show-bin-path)
"$bin/sluice" version
