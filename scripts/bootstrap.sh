#!/usr/bin/env bash
# Install what lrr_lite needs on Debian 12 / Raspberry Pi OS: system libraries, then a venv in .venv.
#   bash scripts/bootstrap.sh          # to run the server
#   bash scripts/bootstrap.sh test     # plus the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=${1:-}

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

# libarchive13: RAR/7z/tar reading behind libarchive-c. unar: the RAR archives libarchive refuses (solid
# RAR 4, RAR 1.5/2.x, multi-volume sets; media/formats/unarreader.py). python3-venv: the venv itself.
pkgs=(python3 python3-venv python3-pip libarchive13 unar)
# Test-only: systemd-analyze checks the unit file; Chromium and its driver run the browser tests; bsdtar
# (libarchive-tools) opens the ZIP a folder archive is downloaded as, a second reader beside zipfile.
if [ "$want_test" = test ]; then pkgs+=(systemd chromium chromium-driver libarchive-tools); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
  else
    echo "bootstrap: please install: ${missing[*]}" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
if [ "$want_test" = test ]; then
  .venv/bin/pip install -q -e '.[test]'
else
  .venv/bin/pip install -q .
fi
