#!/usr/bin/env bash
# Replace the Chart.js shipped in the package with a version from the npm registry:
#   scripts/update_chartjs.sh 4.6.1
# The page needs no build step: it loads dist/chart.umd.min.js as it is published.
set -euo pipefail
version=${1:?usage: scripts/update_chartjs.sh VERSION}
target="$(cd "$(dirname "$0")/.." && pwd)/src/streamlab/resources/live"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "chart.js@$version" >/dev/null && tar xzf "chart.js-$version.tgz")
cp "$work/package/dist/chart.umd.min.js" "$target/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$target/chart.js.LICENSE.md"
echo "Chart.js $version in $target; update the version in docs/live.md"
