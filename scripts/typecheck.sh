#!/usr/bin/env bash
# mypy over the `deter` package as it is installed (see with-package-tree.sh for why a tree).
# Its messages name the checkout's files (cli/..., solver/..., api/...), not the tree's
# deter/... links, so an editor or a person can open them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/with-package-tree.sh" mypy --config-file "$root/pyproject.toml" -p deter "$@" \
    | sed -E 's#^deter/(cli|solver)/#\1/#; s#^deter/([^/]+\.py)#api/\1#'
