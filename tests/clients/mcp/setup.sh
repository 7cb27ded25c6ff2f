#!/usr/bin/env bash
# Makes tests/clients/mcp/.venv for tests/mcp_client.rs: a Python of at least 3.12 (braze-mcp-server
# needs it; pyenv's newest such interpreter when pyenv is there, else python3.13/python3.12 on
# PATH) with requirements.txt installed. Run from anywhere; `.ci/run` runs it under CI=true.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python=""
if command -v pyenv >/dev/null 2>&1; then
  version=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9]|[2-9][0-9])(\.[0-9]+)*$' | sort -V | tail -n 1 || true)
  [ -n "$version" ] && python="$(pyenv root)/versions/$version/bin/python"
fi
if [ -z "$python" ]; then
  for candidate in python3.14 python3.13 python3.12; do
    if command -v "$candidate" >/dev/null 2>&1; then python=$(command -v "$candidate"); break; fi
  done
fi
if [ -z "$python" ]; then
  echo "no Python 3.12 or later found (pyenv versions, python3.12 on PATH)" >&2
  exit 1
fi
"$python" -m venv "$here/.venv"
"$here/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$here/.venv/bin/python" -c "import braze_mcp.server, mcp" 2>/dev/null
echo "MCP client venv ready: $("$here/.venv/bin/python" --version)"
