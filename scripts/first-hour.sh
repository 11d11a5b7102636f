#!/usr/bin/env bash
# The first hour of a new user who has only the wheel (issue 15): build the wheel, install it
# in a fresh virtual environment (dependencies from PyPI), and in an empty folder run
# init, validate, solve, explain, a plot and the HTML report. Takes a few minutes (the
# install), so it is a script rather than a test; run it before a release:
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
"$deter" frontier coding_agent.toml --points 5 --plot frontier.png
"$deter" report coding_agent.toml -o report.html
"$deter" check my.toml coding_agent.toml -f github
test -s frontier.png && test -s report.html
set +x
echo "first hour: ok (in $work)"
