#!/usr/bin/env bash
# Run a command in a tree laid out as the installed `deter` package: api/ is the package root
# and cli/, solver/ its subpackages (pyproject.toml's package-dir), a mapping that tools which
# walk the source folders (mypy, import-linter's grimp) cannot follow. The tree is made of
# links to the checkout, so the command sees the working files; it is removed afterwards.
#   bash scripts/with-package-tree.sh COMMAND [ARGS...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/deter"
for f in "$root"/api/*.py "$root"/api/py.typed; do
    if [ -e "$f" ]; then ln -s "$f" "$tree/deter/"; fi
done
ln -s "$root/cli" "$tree/deter/cli"
ln -s "$root/solver" "$tree/deter/solver"
cd "$tree"
PYTHONPATH="$tree${PYTHONPATH:+:$PYTHONPATH}" "$@"
