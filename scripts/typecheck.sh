#!/usr/bin/env bash
# mypy over the `deter` package as it is installed (see with-package-tree.sh for why a tree).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/with-package-tree.sh" mypy --config-file "$root/pyproject.toml" -p deter "$@"
