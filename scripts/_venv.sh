# Sourced by the other scripts, with the requirements file they need (default requirements.txt, what
# PlugTrack needs to run; scripts/test.sh passes requirements-dev.txt, which adds the tests and tools):
# create .venv with this machine's python3 and install that file's pins, again only when it or
# requirements.txt (which requirements-dev.txt includes) changed since the last install of it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
requirements=${1:-requirements.txt}
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
installed=".venv/.${requirements%.txt}.installed"  # a copy of what was installed, to compare
pins() { cat requirements.txt; [ "$requirements" = requirements.txt ] || cat "$requirements"; }
if ! pins | cmp -s - "$installed" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  pins >"$installed"
fi
