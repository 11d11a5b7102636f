#!/usr/bin/env bash
# The first hour of a new user who has only the wheel (issues 15, 21): build the wheel, install
# it in a fresh virtual environment (dependencies from PyPI), and in an empty folder (no
# problems/: only a clone has it) run init, validate, solve, a bundled problem by its name,
# the README's problems/... paths, explain, a plot, the HTML report, the errors a first hour
# meets (a missing file, a folder that is not there, a closed pipe) and the package's own
# folders. Takes a few minutes (the install), so it is a script rather than a test; run it
# before a release:
#
#     bash scripts/first-hour.sh [WORKDIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work/wheel" "$work/try"
python -m pip wheel "$root" -w "$work/wheel" --no-deps -q
python -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/wheel/deter-*.whl
deter="$work/venv/bin/deter"
cd "$work/try"
set -x
"$deter" --version
"$deter" init --list
"$deter" init -o my.toml
head -1 my.toml | grep -q '^#:schema ./deter.schema.json$'
test -s deter.schema.json
"$deter" validate my.toml
"$deter" solve my.toml
"$deter" solve my.toml -f json --no-timing | "$work/venv/bin/python" -c \
    'import json, sys; d = json.load(sys.stdin); assert d["kind"] == "result" and d["status"] == "optimal"'
"$deter" explain my.toml
"$deter" init coding_agent -o coding_agent.toml
"$deter" solve coding_agent.toml
"$deter" frontier coding_agent.toml --from 1 --to 4 --points 5 --plot frontier.png
"$deter" report coding_agent.toml -o report.html
"$deter" check my.toml coding_agent.toml -f github
test -s frontier.png && test -s report.html
# A bundled problem by its name, and the README's problems/... paths, from the wheel alone.
test ! -e problems
"$deter" solve coding_agent -q
"$deter" solve problems/coding_agent.toml -f json --no-timing | "$work/venv/bin/python" -c \
    'import json, sys; d = json.load(sys.stdin); assert d["name"] == "coding-agent", d'
"$deter" explain infeasible/over_budget -q && exit 1 || test $? -eq 1
# What a first hour gets wrong: one located line and the exit code from the table, no traceback.
expect() {  # expect CODE TEXT COMMAND...: exit CODE, TEXT on stderr, no traceback
    local code="$1" text="$2" got=0
    shift 2
    "$@" 2>err.txt >/dev/null || got=$?
    test "$got" -eq "$code" || { cat err.txt; echo "exit $got, not $code: $*"; exit 1; }
    grep -q -- "$text" err.txt || { cat err.txt; echo "no '$text': $*"; exit 1; }
    if grep -q Traceback err.txt; then cat err.txt; exit 1; fi
}
expect 2 "did you mean 'coding_agent'" "$deter" solve coding_agnt
expect 2 "deter init --list" "$deter" solve my_spec.toml
expect 2 "specs/new.toml: No such file or directory" "$deter" init -o specs/new.toml
expect 2 "nodir/s.json" "$deter" schema -o nodir/s.json
# A closed pipe: quiet, exit 141 (128 + SIGPIPE).
status=0
"$deter" batch my.toml coding_agent.toml -f jsonl -q 2>err.txt | true || status=$?
test ! -s err.txt || { cat err.txt; exit 1; }
# The installed package holds exactly the repository's package folders.
"$work/venv/bin/python" - "$root" <<'PY'
import importlib.metadata as md, sys
from pathlib import Path
root = Path(sys.argv[1])
files = {str(f) for f in md.files("deter") if str(f).endswith("__init__.py")}
packages = {f.removesuffix("/__init__.py").replace("/", ".") for f in files}
expected = {"deter"} | {
    "deter." + str(p.parent.relative_to(root)).replace("/", ".").replace("api.", "")
    for top in ("cli", "solver", "problems")
    for p in (root / top).rglob("__init__.py")
}
assert packages == expected, (sorted(packages ^ expected))
PY
set +x
echo "first hour: ok (in $work)"
