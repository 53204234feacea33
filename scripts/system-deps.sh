#!/usr/bin/env bash
# Installs the Debian packages mctui needs. `app`: PortAudio, for real audio devices (without it
# mctui says so and uses the null device), and libopus for the concealing decoder (else the copy in
# PyAV's wheel is used). `test`: also jackd2, the virtual audio device the device tests start, and
# iproute2, for the network namespaces of the real-network tests, and janus, the production SFU
# the Janus tests run in such a namespace, and chromium, the real browser the guest page's tests
# drive (headless, in a namespace with only lo), and systemd, whose systemd-analyze checks the
# service unit in contrib/, and nginx, which runs contrib/nginx.conf in a namespace, and
# espeak-ng, the real speech of the echo test bed. Packages
# that ship a service (janus, nginx) are installed without starting it: a test machine gets no
# daemon listening on its interfaces. Idempotent: asks apt only for what dpkg does not already
# have.
set -euo pipefail
profile="${1:-app}"
PACKAGES=(libportaudio2 libopus0)
if [ "$profile" = "test" ]; then
  PACKAGES+=(jackd2 iproute2 janus chromium systemd nginx espeak-ng)
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# invoke-rc.d and deb-systemd-invoke ask policy-rc.d whether to start a service: 101 says no.
# Put one there for the install unless the machine has its own (container images do).
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  trap '$SUDO rm -f "$POLICY"' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
