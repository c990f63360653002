#!/usr/bin/env bash
# Re-fetch the vendored front-end packages from the npm registry, by exact version.
#
#   gridgov/static/vendor/update.sh                 # the versions below
#   LEAFLET_VERSION=1.9.4 AXE_VERSION=4.14.1 gridgov/static/vendor/update.sh
#
# Each tarball's SHA-512 is checked against the registry's `dist.integrity` before anything is
# copied; the files land in gridgov/static/vendor/<name>/ with the package's licence, and
# README.md is rewritten with the versions, integrities and file list. Needs npm, tar, sha512sum,
# base64. Run by hand when upgrading (review the diff), never in CI: the app serves these files
# from its own origin, with no CDN and no build step.
set -euo pipefail

LEAFLET_VERSION="${LEAFLET_VERSION:-1.9.4}"
AXE_VERSION="${AXE_VERSION:-4.14.1}"

VENDOR_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# fetch NAME VERSION -> unpacks into $WORK/NAME/package, prints the verified integrity
fetch() {
  local name="$1" version="$2" expected tarball actual
  expected="$(npm view "${name}@${version}" dist.integrity 2>/dev/null)"
  [ -n "$expected" ] || { echo "npm has no ${name}@${version}" >&2; exit 1; }
  mkdir -p "$WORK/$name"
  tarball="$(cd "$WORK/$name" && npm pack --silent "${name}@${version}" 2>/dev/null | tail -n1)"
  actual="sha512-$(sha512sum "$WORK/$name/$tarball" | cut -d' ' -f1 | xxd -r -p | base64 -w0)"
  if [ "$actual" != "$expected" ]; then
    echo "integrity mismatch for ${name}@${version}: registry $expected, tarball $actual" >&2
    exit 1
  fi
  tar -xzf "$WORK/$name/$tarball" -C "$WORK/$name"
  echo "$expected"
}

# install NAME SRC_DIR FILE... -> copies FILEs (relative to SRC_DIR) into vendor/NAME/
install_files() {
  local name="$1" src="$2"; shift 2
  rm -rf "${VENDOR_DIR:?}/$name"
  mkdir -p "$VENDOR_DIR/$name"
  local f
  for f in "$@"; do
    mkdir -p "$VENDOR_DIR/$name/$(dirname "$f")"
    cp "$src/$f" "$VENDOR_DIR/$name/$f"
  done
}

LEAFLET_INTEGRITY="$(fetch leaflet "$LEAFLET_VERSION")"
leaflet_pkg="$WORK/leaflet/package"
cp "$leaflet_pkg/LICENSE" "$leaflet_pkg/dist/LICENSE"
leaflet_images=$(cd "$leaflet_pkg/dist" && ls images/*.png)
# shellcheck disable=SC2086
install_files leaflet "$leaflet_pkg/dist" leaflet.js leaflet.css LICENSE $leaflet_images

AXE_INTEGRITY="$(fetch axe-core "$AXE_VERSION")"
install_files axe-core "$WORK/axe-core/package" axe.min.js LICENSE LICENSE-3RD-PARTY.txt

list_files() {
  (cd "$VENDOR_DIR/$1" && find . -type f | sed 's|^\./||' | sort | while read -r f; do
     printf '  - `%s` (%s bytes, sha256 `%s`)\n' "$f" "$(wc -c <"$f" | tr -d ' ')" "$(sha256sum "$f" | cut -c1-16)…"
   done)
}

cat >"$VENDOR_DIR/README.md" <<MD
# Vendored front-end packages

Served from \`/static/vendor/<name>/\`: no CDN, no build step at run time. Copied from the npm
registry's tarballs by \`update.sh\` (which checks each tarball against the registry's
\`dist.integrity\` first). To upgrade: set the version in \`update.sh\`, run it, review the diff,
run the browser tests. Not run by CI.

| package | version | licence | npm tarball integrity |
| --- | --- | --- | --- |
| [leaflet](https://www.npmjs.com/package/leaflet) | ${LEAFLET_VERSION} | BSD-2-Clause | \`${LEAFLET_INTEGRITY}\` |
| [axe-core](https://www.npmjs.com/package/axe-core) | ${AXE_VERSION} | MPL-2.0 | \`${AXE_INTEGRITY}\` |

What each is for:

- **leaflet** — the map on the mobile report page and the consoles (grid polygons as the base
  layer; a tile URL is optional). Files from the package's \`dist/\`; \`images/\` holds the
  marker and layer-control icons that \`leaflet.css\` refers to by relative URL.
- **axe-core** — accessibility checks injected by the browser tests
  (\`tests/browser/conftest.py: check_accessibility\`); not loaded by any page.

Files:

- leaflet/
$(list_files leaflet)
- axe-core/
$(list_files axe-core)
MD

echo "vendored leaflet@${LEAFLET_VERSION} and axe-core@${AXE_VERSION} into ${VENDOR_DIR}"
