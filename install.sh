#!/bin/sh
# Builds credential-broker in release mode and installs its programs, man pages and completions.
set -eu

usage() {
    cat <<'EOF'
usage: ./install.sh [--prefix DIR] [--no-build] [--no-install-deps]

Checks the prerequisites (swift, a linker, libcurl's development library, git), builds
credential-broker with `swift build -c release --static-swift-stdlib` and installs
  DIR/bin/                                 git-credential-broker, aws-credential-process,
                                           broker-env-wrap, docker-credential-broker,
                                           kube-credential-broker, broker-agent, brokerctl
  DIR/share/man/man1/, DIR/share/man/man5/ the manual pages
  DIR/share/bash-completion/completions/   bash completions
  DIR/share/zsh/site-functions/            zsh completions
  DIR/share/fish/vendor_completions.d/     fish completions

A missing prerequisite stops the install before building, with the command that installs it;
run as root on Debian or Ubuntu, install.sh runs that apt-get command itself.

  --prefix DIR       install under DIR (default: $HOME/.local)
  --no-build         install the existing release build instead of building first
  --no-install-deps  never install a missing prerequisite; print its command and stop
  -h, --help         print this help and exit
EOF
}

fail_usage() {
    echo "install.sh: $1" >&2
    usage >&2
    exit 64
}

prefix=
build=yes
install_deps=yes
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
        --no-install-deps)
            install_deps=no
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

programs="git-credential-broker aws-credential-process broker-env-wrap docker-credential-broker kube-credential-broker broker-agent brokerctl"

# Prerequisites are checked before building: a missing one is then one line naming its fix, not
# a failed link thirty undefined references deep.

# This system's family, for the one command that installs what is missing.
system_family() {
    if [ "$(uname -s)" = Darwin ]; then
        echo macos
        return
    fi
    ids=
    # os-release is shell assignments by specification; read it in a subshell.
    [ -r /etc/os-release ] && ids=$(. /etc/os-release && echo "${ID:-} ${ID_LIKE:-}")
    case " $ids " in
        *" debian "* | *" ubuntu "*) echo debian ;;
        *" fedora "* | *" rhel "* | *" centos "*) echo fedora ;;
        *) echo other ;;
    esac
}

# The C compiler driver swift links through (its toolchain ships clang), or nothing.
c_driver() {
    for driver in clang cc gcc; do
        if command -v "$driver" >/dev/null 2>&1; then
            echo "$driver"
            return
        fi
    done
}

# Whether `-lcurl` resolves: FoundationNetworking linked statically names libcurl, and that
# needs the development symlink libcurl.so, not only the runtime's libcurl.so.4. Looks where
# the linker will: LIBRARY_PATH first (clang's -print-file-name ignores it), then the driver's
# own search path.
libcurl_links() {
    found=no
    set -f
    old_ifs=$IFS
    IFS=:
    for dir in ${LIBRARY_PATH:-}; do
        if [ -n "$dir" ] && [ -e "$dir/libcurl.so" ]; then
            found=yes
        fi
    done
    IFS=$old_ifs
    set +f
    [ "$found" = yes ] && return 0
    driver=$(c_driver)
    [ -n "$driver" ] || return 1
    # Prints the bare name when no directory on its search path has it.
    path=$("$driver" -print-file-name=libcurl.so 2>/dev/null) || return 1
    case $path in
        /*) [ -e "$path" ] ;;
        *) return 1 ;;
    esac
}

present() {
    case $1 in
        swift) command -v swift >/dev/null 2>&1 ;;
        linker) [ -n "$(c_driver)" ] && command -v ld >/dev/null 2>&1 ;;
        libcurl) libcurl_links ;;
        git) command -v git >/dev/null 2>&1 ;;
    esac
}

describe() {
    case $1 in
        swift) echo "swift is missing" ;;
        linker) echo "a linker (ld, and clang, cc or gcc to drive it) is missing" ;;
        libcurl) echo "libcurl's development library is missing" ;;
        git) echo "git is missing (brokerctl selftest runs it)" ;;
    esac
}

# The package that provides a prerequisite on this system, or nothing.
package_for() {
    case $family:$1 in
        *:linker) echo binutils ;;
        debian:libcurl) echo libcurl4-openssl-dev ;;
        fedora:libcurl) echo libcurl-devel ;;
        fedora:swift) echo swift-lang ;;
        *:git) echo git ;;
    esac
}

# What to tell a person to do about a missing prerequisite.
remedy() {
    package=$(package_for "$1")
    sudo="sudo "
    [ "$(id -u)" = 0 ] && sudo=
    case $family:$1 in
        macos:git) echo "run: brew install git" ;;
        macos:*) echo "run: xcode-select --install" ;;
        debian:swift | other:swift) echo "install it from https://www.swift.org/install/" ;;
        debian:*) echo "run: ${sudo}apt-get install $package" ;;
        fedora:*) echo "run: ${sudo}dnf install $package" ;;
        other:libcurl) echo "install your system's libcurl development package (it provides libcurl.so)" ;;
        other:*) echo "install $package with your system's package manager" ;;
    esac
}

missing_prerequisites() {
    for prerequisite in $needed; do
        present "$prerequisite" || echo "$prerequisite"
    done
}

family=$(system_family)
needed=git
if [ "$build" = yes ]; then
    needed="swift linker git"
    # macOS links Apple's Foundation; only a static FoundationNetworking links libcurl.
    [ "$family" = macos ] || needed="swift linker libcurl git"
fi
missing=$(missing_prerequisites)

if [ -n "$missing" ] && [ "$install_deps" = yes ] && [ "$family" = debian ] \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    packages=
    for prerequisite in $missing; do
        package=$(package_for "$prerequisite")
        [ -z "$package" ] || packages="$packages $package"
    done
    if [ -n "$packages" ]; then
        # A failure here is apt's to explain; the check below then names what is still missing.
        echo "install.sh: running: apt-get update"
        if apt-get update; then
            echo "install.sh: running: apt-get install -y$packages"
            DEBIAN_FRONTEND=noninteractive apt-get install -y $packages || true
        fi
        missing=$(missing_prerequisites)
    fi
fi

if [ -n "$missing" ]; then
    for prerequisite in $missing; do
        echo "install.sh: $(describe "$prerequisite"); $(remedy "$prerequisite")" >&2
    done
    exit 1
fi

# BROKER_BUILD_DIR: a separate build folder (the tests use one so they do not contend with the
# debug build's lock on .build).
scratch=${BROKER_BUILD_DIR:-.build}
if [ "$build" = yes ]; then
    # The pipe below hides swift's exit status from sh, so it travels through a file.
    status_file=$(mktemp "${TMPDIR:-/tmp}/install.sh.XXXXXX")
    trap 'rm -f "$status_file"' EXIT
    # A static Swift runtime: the installed programs do not depend on a toolchain's libraries.
    # Linking it prints warnings that are expected and say nothing about our code: glibc's
    # "Using 'getpwuid' (or 'dlopen') in statically linked applications requires at runtime the
    # shared libraries …" for the fully static adapters, and Foundation's own use of mktemp. They
    # are left out of the output and counted in one line; every other line, errors included,
    # passes through.
    {
        status=0
        swift build -c release --static-swift-stdlib --scratch-path "$scratch" 2>&1 || status=$?
        echo "$status" >"$status_file"
    } \
        | awk '
            /warning: Using .* in statically linked applications requires at runtime the shared libraries/ \
                || /warning: the use of .mktemp. is dangerous/ { hidden++; next }
            { print; fflush() }
            END {
                if (hidden) print "install.sh: " hidden " known linker warnings hidden (glibc calls in static programs, " \
                    "mktemp in the static Foundation); they are expected"
            }'
    status=$(cat "$status_file")
    [ "$status" = 0 ] || exit "${status:-1}"
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
        # The line for the user's own shell, written as they would: $HOME or ~, not today's value.
        bin_from_home=$prefix/bin
        bin_from_tilde=$prefix/bin
        if [ -n "${HOME:-}" ]; then
            case $prefix/bin in
                "$HOME"/*)
                    bin_from_home="\$HOME/${prefix#"$HOME"/}/bin"
                    bin_from_tilde="~/${prefix#"$HOME"/}/bin"
                    ;;
            esac
        fi
        line="export PATH=\"$bin_from_home:\$PATH\""
        case ${SHELL:-} in
            */fish) how="run this once in fish:" line="fish_add_path $bin_from_tilde" ;;
            */zsh) how="add this line to ~/.zshrc:" ;;
            */bash) how="add this line to ~/.bashrc:" ;;
            *) how="add this line to ~/.profile:" ;;
        esac
        echo "note: $prefix/bin is not on your PATH, and git finds git-credential-broker there; $how"
        echo
        echo "$line"
        echo
        ;;
esac
echo "note: zsh loads the completions once $prefix/share/zsh/site-functions is on fpath, before compinit."
