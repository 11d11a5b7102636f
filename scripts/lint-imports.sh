#!/usr/bin/env bash
# import-linter's contracts (pyproject.toml's [tool.importlinter]) over the `deter` package as
# it is installed (see with-package-tree.sh for why a tree).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/with-package-tree.sh" lint-imports --no-cache "$root/pyproject.toml" "$@"
