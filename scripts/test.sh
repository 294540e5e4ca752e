#!/usr/bin/env bash
# The whole test suite, on a fresh machine: install what the tests need, build, test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The house format, strictly (a few seconds): scripts/format.sh fixes what it finds.
bash scripts/format.sh --lint
swift build --build-tests
swift test --skip-build "$@"
