#!/usr/bin/env bash
# Pictures of the web dashboard for the docs: every page the audit visits
# (ci/web-audit.sh, on a `serve --demo` server), as the role that sees it,
# at 1280 × 800 and at 390 × 844 px, into docs/screens/web/NAME-WIDTH.png.
# The freelancer's copies of the client's pages are left out. axe and the
# width check run as in the audit; Lighthouse does not. Look at them.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs/screens/web"
rm -rf "$out"
mkdir -p "$out"
AUDIT_SCREENS="$out" AUDIT_LIGHTHOUSE=0 ci/web-audit.sh
rm -f "$out"/*-freelancer-*.png "$out"/reports-admin-*.png
ls -l "$out"
