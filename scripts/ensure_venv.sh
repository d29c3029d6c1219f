#!/usr/bin/env bash
# Create (or reuse) a Python 3.10 virtualenv and install neurograph into it.
# lava-nc 0.10.0 only imports on Python 3.10, so we look for one explicitly.
set -euo pipefail
venv="${1:-.venv}"

find_python310() {
    local candidates=(python3.10)
    if command -v pyenv >/dev/null 2>&1; then
        candidates+=("$(pyenv root)/versions/3.10."*/bin/python)
    fi
    candidates+=("$HOME/.pyenv/versions/3.10."*/bin/python /usr/bin/python3.10 /usr/local/bin/python3.10)
    for c in "${candidates[@]}"; do
        if [ -x "$(command -v "$c" 2>/dev/null || echo "$c")" ] && \
           "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
            command -v "$c" 2>/dev/null || echo "$c"
            return 0
        fi
    done
    return 1
}

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)'; then
    if ! py=$(find_python310); then
        cat >&2 <<'MSG'
neurograph needs Python 3.10 (lava-nc 0.10.0 does not import on 3.11 or newer).
No Python 3.10 interpreter was found. Install one, e.g.:
    pyenv install 3.10.13          # then re-run this command
or  apt-get install python3.10 python3.10-venv
MSG
        exit 1
    fi
    echo "creating $venv with $py"
    rm -rf "$venv"
    "$py" -m venv "$venv"
fi

# pip's warnings about this machine's local package mirrors are noise; keep errors.
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "neurograph installed in $venv"
