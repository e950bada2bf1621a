#!/bin/sh
# checksrc.sh — house-style checks run by `make test` (curl's checksrc): banned unsafe
# functions, and clang-format conformance of every C file.
set -u
cd "$(dirname "$0")/.."
status=0
banned='\b(strcpy|strcat|sprintf|vsprintf|atoi|atol|strtok|localtime|gmtime|gets)[[:space:]]*\('
if grep -rnE "$banned" src tests/unit fuzz tools --include='*.c' --include='*.h'; then
    echo "checksrc: banned function used (see STYLE.md: Memory and strings)"
    status=1
fi
if command -v clang-format >/dev/null 2>&1; then
    for f in $(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c' 'fuzz/*.c' 'tools/*.c' 'bench/*.c' 2>/dev/null); do
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
            echo "checksrc: $f is not clang-formatted (run: make format)"
            status=1
        fi
    done
fi
exit $status
