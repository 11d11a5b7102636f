#!/usr/bin/env bash
# mypy over the `deter` package as it is installed: api/ is the package root and cli/, solver/
# its subpackages, a mapping mypy cannot follow from the source tree, so check a tree of links.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/deter"
for f in "$root"/api/*.py "$root"/api/py.typed; do ln -s "$f" "$tree/deter/"; done
ln -s "$root/cli" "$tree/deter/cli"
ln -s "$root/solver" "$tree/deter/solver"
cd "$tree" && mypy --config-file "$root/pyproject.toml" -p deter "$@"
