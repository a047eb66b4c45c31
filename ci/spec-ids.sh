#!/usr/bin/env bash
# Every rule of docs/SPEC.md (a `### ID — …` heading) is cited by its id
# somewhere in the code or the tests, where it is enforced or checked.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=0
for id in $(grep -oE '^### [A-Z][0-9]+ ' docs/SPEC.md | awk '{print $2}'); do
    if ! grep -rqw --include='*.rs' "$id" src crates tests benches examples; then
        echo "docs/SPEC.md: $id is cited nowhere in the code" >&2
        missing=1
    fi
done
exit "$missing"
