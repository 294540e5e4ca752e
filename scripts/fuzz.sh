#!/usr/bin/env bash
# A long run of the plan and note fuzzer (Tests/CurriculumKitTests/PlanFuzzTests.swift):
# COUNT mutated plans through the plan loader and COUNT mutated notes through the note
# importer, in a release build. Any failing case is saved under $TMPDIR as
# fuzz-{plan,note}-SEED-INDEX.bin and can be replayed alone with
#   FUZZ_SEED=SEED FUZZ_START=INDEX FUZZ_COUNT=1 swift test --filter PlanFuzz
#
#   scripts/fuzz.sh [--count N] [--seed S] [--start I]     (default: 100000 cases, fixed seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
count=100000
seed=""
start=0
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --start) start="$2"; shift 2 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1 (use --count N, --seed S, --start I)" >&2; exit 64 ;;
  esac
done
export FUZZ_COUNT="$count" FUZZ_START="$start"
if [ -n "$seed" ]; then export FUZZ_SEED="$seed"; fi
# @testable import needs -enable-testing in a release build.
flags=(-c release -Xswiftc -enable-testing)
# FUZZ_SCRATCH=DIR builds in DIR instead of .build (so a debug build can go on beside it).
if [ -n "${FUZZ_SCRATCH:-}" ]; then flags+=(--scratch-path "$FUZZ_SCRATCH"); fi
swift build "${flags[@]}" --build-tests
started=$(date +%s)
status=0
swift test "${flags[@]}" --skip-build --filter 'PlanFuzzTests/mutated' 2>&1 | tee "${TMPDIR:-/tmp}/fuzz-run.log" | grep -E 'PlanFuzz |✘|failures:|^  case ' || true
grep -q '✘' "${TMPDIR:-/tmp}/fuzz-run.log" && status=1
grep -q 'passed after' "${TMPDIR:-/tmp}/fuzz-run.log" || status=1
echo "fuzz.sh: $count cases each, $(( $(date +%s) - started )) s, $([ $status = 0 ] && echo 'no failures' || echo 'FAILURES (see above and '"${TMPDIR:-/tmp}"'/fuzz-run.log)')"
exit $status
