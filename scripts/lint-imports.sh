#!/usr/bin/env bash
# Check the layering contract (pyproject.toml [tool.importlinter]) with import-linter.
# import-linter reads modules from the file system and cannot follow setuptools' editable
# finder for our package-dir mapping, so it gets a tree of links shaped like the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/lint-tree/sensorium
mkdir -p "$tree"
: > "$tree/__init__.py"
for pkg in pipeline models stages deploy; do ln -sfn "$PWD/$pkg" "$tree/$pkg"; done
PYTHONPATH="$PWD/build/lint-tree" exec "${VENV:-.venv}/bin/lint-imports" "$@"
