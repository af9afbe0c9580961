#!/usr/bin/env bash
# Everything hnblab needs on a fresh machine with Python 3.11+ and a Docker engine:
# debootstrap (the node base image is made without a registry), a venv with the project.
# Idempotent: a second run costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "[setup] installing debootstrap"
  as_root apt-get update -qq && as_root apt-get install -y -qq debootstrap >/dev/null
fi
docker info >/dev/null 2>&1 || { echo "[setup] the Docker engine does not answer" >&2; exit 1; }
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.hnblab-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing hnblab and its dependencies into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
