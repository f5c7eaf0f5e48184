#!/bin/sh
# Idempotent set-up: Debian packages (when root), the virtualenv, the Python packages.
# Everything `make demo`, `make test` and `make bench` need on a fresh machine.
set -eu
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
DEBIAN_PACKAGES="debootstrap sip-tester espeak-ng sox chromium postgresql procps"

missing=""
for pkg in $DEBIAN_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian packages:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q || echo "setup: apt-get update failed; trying the cached lists"
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $missing
    else
        echo "setup: missing Debian packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
    fi
fi

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed")'
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[dev]"
echo "setup: done ($("$VENV/bin/python" --version), $(ls "$VENV/lib" | head -1))"
