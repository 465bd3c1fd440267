#!/usr/bin/env bash
# Installs the Debian packages pipebus needs, only those that are missing.
#
#   libprotobuf-c-dev, liblz4-dev, pkg-config   the C libraries the Swift targets link
#   protobuf-c-compiler                         protoc-c, for scripts/generate-proto.sh
#   protobuf-compiler                           protoc, for scripts/generate-proto.sh (the Swift services) and the Python _pb2 modules
#   prometheus                                  promtool and a real server, to check /metrics
#   python3                                     the runbook's snippets, in the sidecar tests
#   curl                                        scripts/soak.sh and scripts/runbook-walk.sh
#   python3-venv                                a venv for the tests' Python peers (install-test-python.sh)
#   iproute2                                    `ip netns`: the several-hosts tests (network namespaces)
#
# Safe to run again and again: with everything installed it does nothing, and needs no network.
set -euo pipefail

packages=(libprotobuf-c-dev protobuf-c-compiler protobuf-compiler liblz4-dev pkg-config prometheus python3 python3-venv curl iproute2)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$package")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all of ${packages[*]} are installed"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "install-deps: missing ${missing[*]}, and not root and no sudo to install them" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
