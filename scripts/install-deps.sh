#!/usr/bin/env bash
# Installs the Debian packages the test suite and the labs need. Idempotent: a package
# already installed is skipped, and `apt-get update` runs only when something is missing.
set -euo pipefail

packages=(
  sqlite3        # the CLI tests prepare odd databases with it
  postgresql     # throwaway clusters for the PostgreSQL labs
  redis-server   # throwaway Redis for the caching and rate-limiting labs
  rabbitmq-server  # throwaway RabbitMQ brokers for the message-queue labs (phase 8)
  librabbitmq-dev  # librabbitmq, the C AMQP client the queue labs link (system-library target CRabbitMQ)
  pkg-config     # how SwiftPM finds librabbitmq
  util-linux     # setpriv: the read-only database test runs as an unprivileged user
  procps         # ps/pgrep for the no-leftover-process checks
  python3        # the Python bookshelf fixtures of the HTTP and auth lab tests
  python3-psycopg2  # the PostgreSQL bookshelf fixture of the n-plus-one exercise-mode test
  openssl        # https-tls prints the negotiated cipher with openssl s_client
  g++            # phase 5: the C++ labs compile their sources at run time (sanitizers included)
  libcpp-httplib-dev  # cpp-rest-api
  libpqxx-dev    # cpp-libpqxx
  libbenchmark-dev  # endpoint-benchmarks' C++ twin (Google Benchmark)
  protobuf-compiler       # phase 9: protoc, for the C++ generated from bookshelf.proto at run time
  protobuf-compiler-grpc  # grpc_cpp_plugin (the C++ gRPC stubs)
  libgrpc++-dev           # the C++ gRPC library the phase-9 C++ server and client link
  libprotobuf-dev         # protobuf's headers and protobuf.pc (not a dependency of libgrpc++-dev)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The labs start throwaway servers of their own; system-wide ones the packages may have
# started are never used, so stop them.
stop_system_servers() {
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | while read -r version cluster _port status _rest; do
      if [ "$status" = online ]; then $SUDO pg_ctlcluster "$version" "$cluster" stop || true; fi
    done
  fi
  if command -v redis-cli >/dev/null 2>&1 && redis-cli ping >/dev/null 2>&1; then
    $SUDO service redis-server stop >/dev/null 2>&1 || redis-cli shutdown nosave >/dev/null 2>&1 || true
  fi
  if id -u rabbitmq >/dev/null 2>&1 && pgrep -u rabbitmq beam.smp >/dev/null 2>&1; then
    $SUDO service rabbitmq-server stop >/dev/null 2>&1 || true
  fi
}

# From PyPI, for the tests only: an independent judge of the bookshelf's OpenAPI document
# (HTTPLabsTests). Installed for the python3 on PATH; a Debian python3 that refuses pip
# (externally managed) gets it with --break-system-packages.
python_tools() {
  local spec="openapi-spec-validator==0.9.0"
  python3 -c "import openapi_spec_validator" 2>/dev/null && return 0
  echo "install-deps: pip installing $spec"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "$spec" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages "$spec"
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed."
  stop_system_servers
  python_tools
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps Debian from starting system-wide servers the labs do not use.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
stop_system_servers
python_tools
