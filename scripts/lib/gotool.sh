# shellcheck shell=bash
# Shared by the scripts that build test tools from Go modules into a per-version cache
# (tests/k8s/build.sh, tests/pulumi/build.sh, scripts/build-helm.sh). Source it, set TOOL (the
# name in messages and lock files), then:
#
#   gotool_init NAME-VERSION "$@"   parse --optional/--print, set $out (the cache directory);
#                                   --print prints $out and exits
#   gotool_done                     exit 0 after printing $out when gotool_complete succeeds
#   gotool_find_go "what to build"  set $go_bin, or exit: 3 without Go (0 with --optional
#                                   outside CI: the tests then skip; under CI they fail)
#   gotool_lock                     one build at a time (waits on a flock); exits 0 when the one
#                                   before built everything meanwhile
#   gotool_env                      CGO off, modules on, GOTOOLCHAIN=local
#
# The caller defines gotool_complete (true when every binary is in $out).
#
# $GO, when set, is the only Go looked at (GO=none: act as if Go were not installed); else `go` on
# PATH, else /usr/local/go/bin/go. tests/support/tools.py (find_go) looks the same way.
# CI counts as set unless empty, 0, false or no; tests/support/tools.py (in_ci) agrees.

cache_root=${TRUNKLINE_TOOLS_CACHE:-$HOME/.cache/trunkline/tools}
optional=false

say() { echo "$TOOL: $*" >&2; }
in_ci() { [[ -n "${CI:-}" && "${CI,,}" != false && "${CI}" != 0 && "${CI,,}" != no ]]; }

gotool_init() {
    _gotool_key=$1
    out=$cache_root/$_gotool_key
    case "${2:-}" in
        --print) echo "$out"; exit 0 ;;
        --optional) optional=true ;;
        "") ;;
        *) echo "usage: $0 [--optional|--print]" >&2; exit 2 ;;
    esac
}

gotool_done() {
    if gotool_complete; then
        say "${1:-$_gotool_key} in $out"
        echo "$out"
        exit 0
    fi
}

gotool_find_go() {
    local what=$1
    if [[ -n "${GO:-}" ]]; then
        go_bin=$(command -v "$GO" || true)
    else
        go_bin=$(command -v go || true)
        if [[ -z $go_bin && -x /usr/local/go/bin/go ]]; then
            go_bin=/usr/local/go/bin/go
        fi
    fi
    if [[ -z $go_bin ]]; then
        if $optional && ! in_ci; then
            say "Go is not installed: not building $what; the tests that need it will skip"
            exit 0
        fi
        say "Go is not installed (no 'go' on PATH or in /usr/local/go/bin); cannot build $what"
        exit 3
    fi
}

gotool_lock() {
    mkdir -p "$cache_root"
    # One build at a time; whoever waited finds the binaries made by the one before.
    exec 9>"$cache_root/.$_gotool_key.lock"
    if ! flock -n 9; then
        say "another build of $_gotool_key is running; waiting for it"
        flock 9
    fi
    gotool_done "$_gotool_key was built meanwhile"
}

gotool_env() {
    # Plain Go programs: no cgo (static binaries, no C toolchain needed). GOTOOLCHAIN=local: build
    # with the Go that is installed, never download another one.
    export CGO_ENABLED=0
    export GOFLAGS="-mod=mod -buildvcs=false"
    export GOTOOLCHAIN=local
}
