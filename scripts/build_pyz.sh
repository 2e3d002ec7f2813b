#!/usr/bin/env bash
# Build dist/lrr-lite.pyz: one file with lrr_lite and all the libraries it runs on. Run it as
# `python3 lrr-lite.pyz serve --content DIR --data DIR`. The target machine needs only python3 (the minor
# version it was built for, 3.11 by default: Debian 12 / Raspberry Pi OS bookworm) and libarchive13.
#
#   bash scripts/build_pyz.sh                      # for this machine's CPU; wheels from PyPI
#   bash scripts/build_pyz.sh --platform aarch64   # for 64-bit Raspberry Pi OS, built on a PC
#   bash scripts/build_pyz.sh --platform armv7l    # 32-bit Pi OS: Pillow has no armv7l wheel on PyPI, so
#                                                  #   add PIP_EXTRA_INDEX_URL=https://www.piwheels.org/simple
#   bash scripts/build_pyz.sh --from-venv          # offline: pack what .venv has installed (this CPU and
#                                                  #   .venv's Python version); what the tests use
# Options: --python-version X.Y (default 3.11), --out DIR (default dist/). PYTHON=... picks the Python that
# builds (default .venv/bin/python, else python3); it needs pip, and shiv unless one is fetched (not offline).
#
# Why shiv rather than stdlib zipapp: Pillow, lxml and pypdfium2 carry native .so files, which cannot be
# loaded from inside a zip, so the libraries must be unpacked to disk on first start. shiv (LinkedIn's,
# maintained) does exactly that: its small stdlib-only bootstrap, written into the .pyz, unpacks
# site-packages once to ~/.shiv/lrr-lite.pyz_<hash of the contents>/ under a file lock (two starts at once
# are safe), by an atomic rename (an interrupted first start leaves nothing half-made), and into a new
# directory for each new build. zipapp plus our own bootstrap would have to redo all of that. shiv is a
# build tool only: lrr_lite never imports it. The unpack root is set with SHIV_ROOT (for a service whose
# HOME is read-only: a writable directory such as /var/lib/lrr-lite/pyz).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "build_pyz: $*" >&2; exit 2; }

from_venv=""
arch=""
pyver=""
out="$repo/dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --from-venv) from_venv=1 ;;
    --platform) arch=${2:?--platform needs x86_64, aarch64 or armv7l}; shift ;;
    --python-version) pyver=${2:?--python-version needs X.Y}; shift ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
arch_given=$arch pyver_given=$pyver
arch=${arch:-$(uname -m)} pyver=${pyver:-3.11}
case "$arch" in
  x86_64|amd64) arch=x86_64 ;;
  aarch64|arm64) arch=aarch64 ;;
  armv7l|armhf) arch=armv7l ;;
  *) die "unsupported platform $arch (x86_64, aarch64 or armv7l)" ;;
esac

if [ -z "${PYTHON:-}" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then PYTHON="$repo/.venv/bin/python"; else PYTHON=python3; fi
fi
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip (apt install python3-pip, or bash scripts/bootstrap.sh)"

work=$(mktemp -d "${TMPDIR:-/tmp}/build_pyz.XXXXXX")
trap 'rm -rf "$work"' EXIT
site="$work/site-packages"
mkdir -p "$site" "$out"
start=$(date +%s)

# Build from a copy of the sources: setuptools' in-tree build/ keeps files of modules since deleted, and
# they would end up in the pyz.
mkdir "$work/src"
cp "$repo/pyproject.toml" "$repo/README.md" "$work/src/"
tar -C "$repo" --exclude=__pycache__ --exclude='*.pyc' -cf - lrr_lite | tar -C "$work/src" -xf -

if [ -n "$from_venv" ]; then
  env_pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  env_arch=$("$PYTHON" -c 'import platform; print(platform.machine())')
  # What is installed was built for this interpreter and this CPU, nothing else.
  [ -z "$pyver_given" ] || [ "$pyver_given" = "$env_pyver" ] || die "--from-venv packs $PYTHON's Python $env_pyver"
  [ -z "$arch_given" ] || die "--from-venv packs this machine's $env_arch libraries; drop --platform"
  pyver=$env_pyver arch=$env_arch
  "$PYTHON" -c 'import shiv' 2>/dev/null || die "--from-venv needs shiv in $PYTHON's environment (pip install -e '.[test]')"
  "$PYTHON" -c 'import setuptools.command.bdist_wheel' 2>/dev/null || "$PYTHON" -c 'import wheel' 2>/dev/null ||
    die "--from-venv needs setuptools>=70.1 or wheel in $PYTHON's environment (pip install -e '.[test]')"
  shiv=("$PYTHON" -m shiv)
  echo "build_pyz: lrr_lite from the source tree, its libraries from $("$PYTHON" -c 'import sys; print(sys.prefix)')"
  # --no-build-isolation: the environment's own setuptools builds it, so no download is needed.
  "$PYTHON" -m pip install -q --no-deps --no-index --no-build-isolation --target "$site" "$work/src"
  "$PYTHON" "$repo/scripts/pyz_site_from_env.py" "$site"
else
  if "$PYTHON" -c 'import shiv' 2>/dev/null; then
    shiv=("$PYTHON" -m shiv)
  else
    "$PYTHON" -m venv "$work/tools"
    "$work/tools/bin/pip" install -q shiv
    shiv=("$work/tools/bin/shiv")
  fi
  # Wheels for the target, whatever this machine is: manylinux tags up to glibc 2.36 (Debian 12's). pip
  # does not widen a manylinux_2_X tag to the older ones by itself, so each is named.
  plat=(--platform "manylinux2014_$arch")
  for minor in $(seq 17 36); do plat+=(--platform "manylinux_2_${minor}_$arch"); done
  # piwheels (Raspberry Pi OS's index) tags its armv7l builds plain linux_armv7l.
  if [ "$arch" = armv7l ]; then plat+=(--platform linux_armv7l); fi
  echo "build_pyz: lrr_lite from the source tree, its libraries from PyPI for cp${pyver/./} $arch"
  "$PYTHON" -m pip wheel -q --no-deps -w "$work/wheels" "$work/src"
  if ! "$PYTHON" -m pip install -q --target "$site" --only-binary=:all: --implementation cp \
      --python-version "$pyver" --abi "cp${pyver/./}" "${plat[@]}" "$work"/wheels/lrr_lite-*.whl; then
    if [ "$arch" = armv7l ]; then
      echo "build_pyz: for armv7l, Pillow comes from piwheels: PIP_EXTRA_INDEX_URL=https://www.piwheels.org/simple" >&2
    fi
    die "could not get every library as a cp${pyver/./} $arch wheel"
  fi
fi
# Console scripts written by pip point at the build machine's Python; the pyz has its own entry point.
rm -rf "$site/bin"

# Runs after the unpack, before lrr_lite starts: the native parts are built for one Python minor version,
# and another one fails with an ImportError that does not say why.
cat >"$work/check_python.py" <<EOF
import sys

if sys.version_info[:2] != (${pyver/./, }):
    sys.exit("lrr-lite.pyz was built for Python $pyver ($arch), this is Python %d.%d: use python$pyver, "
             "or rebuild it with scripts/build_pyz.sh --python-version %d.%d" % (sys.version_info[:2] * 2))
EOF

# --reproducible: the same inputs give the same bytes. --compressed: about a third of the stored size.
"${shiv[@]}" --site-packages "$site" --entry-point lrr_lite.__main__:main --python '/usr/bin/env python3' \
  --preamble "$work/check_python.py" --compressed --reproducible --output-file "$out/lrr-lite.pyz"
size=$(du -k "$out/lrr-lite.pyz" | cut -f1)
echo "build_pyz: $out/lrr-lite.pyz ($((size / 1024)) MiB, Python $pyver, $arch) in $(($(date +%s) - start)) s"
