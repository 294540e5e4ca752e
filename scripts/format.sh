#!/usr/bin/env bash
# The house format (.swift-format at the root), by the toolchain's swift-format.
#   scripts/format.sh          reformats the hand-written Swift in place
#   scripts/format.sh --lint   checks it, strictly (CI runs this); exit 1 on any finding
# Generated files are left as their generators write them: the lab registries and catalogue
# (generate-labs.sh), the embedded plan and C++ (embed-plan.sh, embed-cpp.sh), and the
# protobuf/gRPC code (generate-grpc.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files 'Package.swift' 'Sources/*.swift' 'Tests/*.swift' \
  | grep -v -E '/Generated/|\+Generated\.swift$|/Registry\.swift$|CppSources\.swift$|BuiltInPlan\.swift$')
if [ "${1:-}" = "--lint" ]; then
  swift format lint --strict --parallel "${files[@]}"
  echo "swift format lint --strict: ${#files[@]} files, no findings"
else
  swift format --in-place --parallel "${files[@]}"
fi
