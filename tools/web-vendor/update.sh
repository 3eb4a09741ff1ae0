#!/usr/bin/env bash
# Installs the dashboard's browser libraries from the npm registry (the exact
# versions in package.json / package-lock.json) and copies the files the page
# loads into tiltpy/web/static/vendor/, with their licences. To update one:
#   cd tools/web-vendor && npm install --save-exact preact@X.Y.Z && ./update.sh
# then run the browser tests (tests/browser, tests/e2e/test_dashboard.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/../../tiltpy/web/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$work/"
[ -f "$here/package-lock.json" ] && cp "$here/package-lock.json" "$work/"
(cd "$work" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi)
cp "$work/package-lock.json" "$here/package-lock.json"
m="$work/node_modules"
rm -rf "$dest" && mkdir -p "$dest"
cp "$m/preact/dist/preact.mjs" "$dest/preact.js"
# The page loads modules by path, without an import map (the page's CSP allows
# no inline script), so the hooks' bare "preact" import becomes a path.
sed 's|from *"preact"|from"./preact.js"|' "$m/preact/hooks/dist/hooks.mjs" > "$dest/preact-hooks.js"
grep -q 'from"./preact.js"' "$dest/preact-hooks.js" || { echo "preact hooks: import not rewritten" >&2; exit 1; }
cp "$m/preact/LICENSE" "$dest/LICENSE.preact"
cp "$m/htm/dist/htm.mjs" "$dest/htm.js"
cp "$m/htm/LICENSE" "$dest/LICENSE.htm"
cp "$m/ansi_up/ansi_up.js" "$dest/ansi_up.js"
cp "$m/ansi_up/LICENSE" "$dest/LICENSE.ansi_up"
node -e '
  const fs = require("fs"), m = process.argv[1];
  const out = {};
  for (const p of ["preact", "htm", "ansi_up"]) out[p] = JSON.parse(fs.readFileSync(`${m}/${p}/package.json`)).version;
  fs.writeFileSync(process.argv[2], JSON.stringify(out, null, 2) + "\n");
' "$m" "$dest/versions.json"
echo "vendored into $dest:"; ls -l "$dest"
