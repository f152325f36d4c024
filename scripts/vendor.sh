#!/usr/bin/env bash
# Refresh the vendored front-end libraries from the npm registry (versions pinned in VERSIONS).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=kehu/ui/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$dest/VERSIONS" | while read -r pkg version src _arrow target; do
  [ -n "$pkg" ] || continue
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null && rm -rf "$pkg" && mkdir -p "$pkg" && tar xzf ./*.tgz -C "$pkg" && rm ./*.tgz)
  mkdir -p "$(dirname "$dest/$target")"
  cp "$tmp/$pkg/package/$src" "$dest/$target"
  # no source maps are vendored: a dangling `sourceMappingURL` makes the production static storage's collectstatic fail
  case "$target" in *.js|*.css) sed -i '/sourceMappingURL=/d' "$dest/$target" ;; esac
  echo "$pkg $version -> $dest/$target"
done
