#!/bin/sh
# Benchmarks curriculum against Taskwarrior (issue 4); see bench/run.py for the options.
# Needs: hyperfine, taskwarrior, time (apt-get install -y hyperfine taskwarrior time).
exec python3 "$(dirname "$0")/run.py" "$@"
