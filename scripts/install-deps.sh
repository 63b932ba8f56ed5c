#!/usr/bin/env bash
# Debian packages berth needs at run time (runc, busybox-static for the built-in busybox
# image, debootstrap for the Debian image, tini for `run --init`), to build (musl-tools: the C
# library berth-monitor is linked with, native/monitor/libc-flags.sh) and for its tests
# (docker.io for the docker CLI 20.10 and dockerd cross-tests; python3-docker and
# docker-compose, real clients the API-fidelity tests drive; docker-registry, skopeo and podman,
# real registry peers for the registry interop tests; golang-github-openshift-imagebuilder-dev for
# its public Dockerfile parser corpus).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(crun runc busybox-static debootstrap tini iptables iproute2 util-linux procps ca-certificates musl-tools)
if [ "${BERTH_TEST_DEPS:-1}" = 1 ]; then
  packages+=(docker.io python3-docker docker-compose docker-registry skopeo podman golang-github-openshift-imagebuilder-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
