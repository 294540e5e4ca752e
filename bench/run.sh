#!/bin/sh
# Benchmarks curriculum against Taskwarrior (issue 4); see bench/run.py for the options.
# Installs what it needs when missing (hyperfine, taskwarrior, GNU time; as root, or with
# sudo), then runs bench/run.py, which writes bench/RESULTS.md.
set -e
missing=""
command -v hyperfine >/dev/null 2>&1 || missing="$missing hyperfine"
command -v task >/dev/null 2>&1 || missing="$missing taskwarrior"
[ -x /usr/bin/time ] || missing="$missing time"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "bench/run.sh: needs$missing: apt-get install -y$missing" >&2; exit 69
    fi
    $sudo apt-get update -qq && $sudo apt-get install -y -qq $missing >/dev/null
fi
exec python3 "$(dirname "$0")/run.py" "$@"
