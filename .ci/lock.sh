#!/usr/bin/env bash
# Write constraints.txt from what the virtual environment has installed: every distribution pinned to the
# version the suite passed with (local build labels such as +cpu dropped, so any build of that version fits).
# Used by `make upgrade` after the suite passed; `make run` and `make test` install with `-c constraints.txt`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
{
  echo "# The versions the test suite passed with: make run / make test install with -c constraints.txt."
  echo "# Refresh deliberately with \`make upgrade\` (newest versions, then the suite, then this file)."
  "$venv/bin/pip" freeze --exclude-editable --disable-pip-version-check \
    | grep -v '^#' | sed -E 's/\+[A-Za-z0-9.]+$//' | LC_ALL=C sort -f
} > constraints.txt.new
mv constraints.txt.new constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) pins)"
