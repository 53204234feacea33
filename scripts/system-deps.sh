#!/usr/bin/env bash
# Installs the Debian packages mctui's tests and demo need (PortAudio for sounddevice).
# Idempotent: asks apt only for what dpkg does not already have.
set -euo pipefail
PACKAGES=(libportaudio2 jackd2)
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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
