# Shared by scripts/serve and scripts/test: one virtualenv in .venv, made from nothing.
PYTHON=${PYTHON:-python3}

ensure_venv() {
    local extras=${1:-}
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -m venv .venv
    fi
    local stamp=".venv/.installed${extras:+-$extras}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        # The machine's pip configuration may name local indexes that are absent: quieten that.
        .venv/bin/python -m pip install --quiet --upgrade pip 2> >(grep -v "is ignored" >&2)
        .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}" \
            2> >(grep -v "is ignored" >&2)
        touch "$stamp"
    fi
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_debian_packages() {
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}
