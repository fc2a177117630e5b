# Shared by bin/run and bin/test: make .venv with Python ≥ 3.11 and install lock files (requirements/*.txt, written
# by bin/lock) when they changed.
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
    want=$(sha256sum < "$file" | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
      echo "Installing $file into .venv ..."
      # A file whose hash the lock lacks (a re-uploaded release, a dependency bin/lock did not pin) stops the install.
      .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "$file"
      echo "$want" > "$stamp"
    fi
  done
}
