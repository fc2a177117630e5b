# Shared by bin/run and bin/test: make .venv with Python ≥ 3.11 and install a requirements file when it changed.
PYTHON=${PYTHON:-python3}

ensure_venv() {
  if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "AresBot needs Python 3.11 or newer; set PYTHON=/path/to/python3.11 (found: $("$PYTHON" --version 2>&1))" >&2
    exit 1
  fi
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  local file stamp want
  for file in "$@"; do
    stamp=".venv/.installed-$(basename "$file")"
    want=$(cat "$file" requirements-core.txt | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
      echo "Installing $file into .venv ..."
      .venv/bin/python -m pip install -q --disable-pip-version-check -r "$file"
      echo "$want" > "$stamp"
    fi
  done
}
