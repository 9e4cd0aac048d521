#!/bin/sh
# Builds credential-broker in release mode and installs its programs, man pages and completions.
set -eu

usage() {
    cat <<'EOF'
usage: ./install.sh [--prefix DIR] [--no-build]

Builds credential-broker with `swift build -c release --static-swift-stdlib` and installs
  DIR/bin/                                 git-credential-broker, broker-agent, brokerctl
  DIR/share/man/man1/, DIR/share/man/man5/ the manual pages
  DIR/share/bash-completion/completions/   bash completions
  DIR/share/zsh/site-functions/            zsh completions
  DIR/share/fish/vendor_completions.d/     fish completions

  --prefix DIR   install under DIR (default: $HOME/.local)
  --no-build     install the existing release build instead of building first
  -h, --help     print this help and exit
EOF
}

fail_usage() {
    echo "install.sh: $1" >&2
    usage >&2
    exit 64
}

prefix=
build=yes
while [ $# -gt 0 ]; do
    case $1 in
        --prefix)
            [ $# -ge 2 ] || fail_usage "--prefix needs a directory"
            prefix=$2
            shift 2
            ;;
        --prefix=*)
            prefix=${1#--prefix=}
            shift
            ;;
        --no-build)
            build=no
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            fail_usage "unknown argument: $1"
            ;;
    esac
done

if [ -z "$prefix" ]; then
    [ -n "${HOME:-}" ] || fail_usage "HOME is not set; give --prefix DIR"
    prefix=$HOME/.local
fi
# Strip one trailing slash so the paths printed below read cleanly.
prefix=${prefix%/}

# Everything below is relative to the source tree, wherever the script is run from.
cd "$(dirname "$0")"

programs="git-credential-broker aws-credential-process broker-env-wrap broker-agent brokerctl"

# BROKER_BUILD_DIR: a separate build folder (the tests use one so they do not contend with the
# debug build's lock on .build).
scratch=${BROKER_BUILD_DIR:-.build}
if [ "$build" = yes ]; then
    # A static Swift runtime: the installed programs do not depend on a toolchain's libraries.
    swift build -c release --static-swift-stdlib --scratch-path "$scratch"
fi

bindir=$scratch/release
for program in $programs; do
    if [ ! -x "$bindir/$program" ]; then
        echo "install.sh: $bindir/$program is missing; run ./install.sh without --no-build" >&2
        exit 1
    fi
done

install -d -m 0755 "$prefix/bin" \
    "$prefix/share/man/man1" "$prefix/share/man/man5" \
    "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" \
    "$prefix/share/fish/vendor_completions.d"

for program in $programs; do
    install -m 0755 "$bindir/$program" "$prefix/bin/$program"
done

# The committed pages and completions are the generated ones (the test suite checks that), so
# installing needs no second build step.
for page in man/man1/*.1; do
    install -m 0644 "$page" "$prefix/share/man/man1/"
done
for page in man/man5/*.5; do
    install -m 0644 "$page" "$prefix/share/man/man5/"
done
for script in completions/bash/*; do
    install -m 0644 "$script" "$prefix/share/bash-completion/completions/"
done
for script in completions/zsh/_*; do
    install -m 0644 "$script" "$prefix/share/zsh/site-functions/"
done
for script in completions/fish/*.fish; do
    install -m 0644 "$script" "$prefix/share/fish/vendor_completions.d/"
done

echo "installed credential-broker under $prefix; to let git use it, run:"
echo
echo "git config --global credential.helper broker"
echo
case ":${PATH:-}:" in
    *":$prefix/bin:"*)
        echo "note: git finds git-credential-broker through PATH, which has $prefix/bin."
        ;;
    *)
        echo "note: $prefix/bin must be on your PATH (it is not now): git finds git-credential-broker there."
        ;;
esac
echo "note: zsh loads the completions once $prefix/share/zsh/site-functions is on fpath, before compinit."
