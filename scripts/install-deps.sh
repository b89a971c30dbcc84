#!/usr/bin/env bash
# Installs what hugeblob needs on Debian 12: the build toolchain and libraries,
# the tools the tests drive (s3rver from npm, boto3, sqlite3, fuse3), and with
# --bench the tools the benchmarks compare against.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev clang-format clang-tidy
  libzstd-dev liblz4-dev libcurl4-openssl-dev libssl-dev libfuse3-dev fuse3
  libexpected-dev libcli11-dev libfmt-dev libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev
  librust-blake3-dev ccache python3-dev python3-pybind11
  python3-setuptools python3-wheel python3-pip python3-venv
)
TEST_PKGS=(b3sum zstd lz4 python3 python3-boto3 python3-pytest python3-numpy sqlite3 time xxd zsh
           xfsprogs)  # xfsprogs: tests/reflink.sh (as root) mounts an XFS image to test reflinks
# Node.js and npm run s3rver; take Debian's only when the machine has none
# (Debian's npm conflicts with a Node.js installed another way).
command -v node >/dev/null 2>&1 || TEST_PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || TEST_PKGS+=(npm)
BENCH_PKGS=(restic borgbackup casync rclone awscli fio squashfuse squashfs-tools e2fsprogs
            python3-matplotlib)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
if [ "${1:-}" = "--bench" ]; then want+=("${BENCH_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# s3rver (pinned in package.json / package-lock.json) for the S3 tests.
if [ -f package-lock.json ] && [ ! -d node_modules/s3rver ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
