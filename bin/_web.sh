# Shared by bin/run and bin/test: the web app in frontend/app (Vue + Vite), built into frontend/static/app.
WEB_DIR=frontend/app
WEB_BUILD=frontend/static/app

# Node.js new enough for the build (Vite 8 wants 20.19 or newer); prints why not on stderr otherwise.
node_ready() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "Node.js (with npm) is not installed." >&2
    return 1
  fi
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    echo "Node.js $(node --version) is too old for the web app's build: it needs 20.19 or newer." >&2
    return 1
  fi
}

# Install the locked packages when the lock file changed since the last install (npm ci starts from scratch).
web_install() {
  local want
  want=$(sha256sum < "$WEB_DIR/package-lock.json" | cut -d' ' -f1)
  if [ "${CI:-}" = "true" ] || [ "$(cat "$WEB_DIR/node_modules/.aresbot-lock" 2>/dev/null)" != "$want" ]; then
    (cd "$WEB_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$WEB_DIR/node_modules/.aresbot-lock"
  fi
}

# A hash of the web app's sources (everything in frontend/app but node_modules): the build is redone when it moves.
web_sources_hash() {
  (cd "$WEB_DIR" && find . -path ./node_modules -prune -o -type f -print | LC_ALL=C sort | xargs -d '\n' sha256sum) |
    sha256sum | cut -d' ' -f1
}

# Build the app unless the build in frontend/static/app was made from these very sources.
web_build_if_changed() {
  local want
  want=$(web_sources_hash)
  if [ "$(cat "$WEB_BUILD/.source-hash" 2>/dev/null)" = "$want" ] && [ -f "$WEB_BUILD/index.html" ]; then
    return 0
  fi
  web_install
  echo "Building the web app (frontend/app) ..."
  (cd "$WEB_DIR" && npm run --silent build -- --logLevel warn)
  echo "$want" > "$WEB_BUILD/.source-hash"
}
