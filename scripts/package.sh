#!/usr/bin/env bash
# Builds the chargeback custom handler and assembles dist/, the folder the
# Functions host runs: host.json, one folder per function (function.json) and
# the binary named by host.json's customHandler.description.defaultExecutablePath,
# executable. azd's prepackage hook runs this (azure.yaml) and deploys dist/ as
# it is; `func azure functionapp publish <app> --custom` is run from inside dist/.
#
# Usage: scripts/package.sh [--allow-glibc] [--profile release|dev] [--out DIR] [--no-build|--if-stale]
#
#   --allow-glibc   if the musl target is not installed, build for the host's
#                   glibc target instead (env CHARGEBACK_ALLOW_GLIBC=1). Good for
#                   local checks; the binary is then dynamically linked and may
#                   not start on Azure's image. Never use it for a deployment.
#   --profile P     cargo profile: release (default) or dev (env CHARGEBACK_PROFILE).
#   --out DIR       where to assemble (default: dist). It is emptied first.
#   --no-build      package the binary already built for the chosen target/profile.
#   --if-stale      build only if that binary is missing or older than a source
#                   file (what infra/check/run.sh uses after `cargo test` built it).
#
# With CHARGEBACK_PACKAGE_PREBUILT=1 the script only verifies an existing dist/
# (host.json and an executable binary) and leaves it as it is: the deploy
# workflow uses this to promote the very package it tested from dev to prod.
#
# Azure runs the binary on Linux x86_64; a static musl build has no dependency
# on the image's glibc. Install the target once with
#   rustup target add x86_64-unknown-linux-musl
#   apt-get install musl-tools        # musl-gcc, for crates that compile C (SQLite)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

allow_glibc="${CHARGEBACK_ALLOW_GLIBC:-0}"
profile="${CHARGEBACK_PROFILE:-release}"
out_dir="dist"
build=1
musl_target="x86_64-unknown-linux-musl"

while [ $# -gt 0 ]; do
    case "$1" in
        --allow-glibc) allow_glibc=1 ;;
        --profile) profile="${2:?--profile needs a value}"; shift ;;
        --profile=*) profile="${1#--profile=}" ;;
        --out) out_dir="${2:?--out needs a value}"; shift ;;
        --out=*) out_dir="${1#--out=}" ;;
        --no-build) build=0 ;;
        --if-stale) build=stale ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "package.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

die() { echo "package.sh: error: $*" >&2; exit 1; }
note() { echo "package.sh: $*" >&2; }

case "$profile" in
    release) profile_dir="release" ;;
    dev|debug) profile="dev"; profile_dir="debug" ;;
    *) die "unknown profile '$profile' (release or dev)" ;;
esac

[ -f host.json ] || die "host.json not found in $repo_root"

if [ "${CHARGEBACK_PACKAGE_PREBUILT:-0}" = 1 ]; then
    exe="$(python3 -c 'import json; print(json.load(open("'"$out_dir"'/host.json"))["customHandler"]["description"]["defaultExecutablePath"])')" \
        || die "CHARGEBACK_PACKAGE_PREBUILT=1 but $out_dir/host.json is missing or has no defaultExecutablePath"
    [ -x "$out_dir/$exe" ] || die "CHARGEBACK_PACKAGE_PREBUILT=1 but $out_dir/$exe is missing or not executable"
    note "using the prebuilt $out_dir/ as it is (CHARGEBACK_PACKAGE_PREBUILT=1)"
    exit 0
fi

# The binary name and arguments come from host.json, so dist/ cannot disagree with it.
read_host_json() {
    python3 - "$1" <<'PY'
import json, sys
host = json.load(open("host.json"))
desc = host.get("customHandler", {}).get("description", {})
print(desc.get(sys.argv[1], ""))
PY
}
exe_name="$(read_host_json defaultExecutablePath)"
[ -n "$exe_name" ] || die "host.json has no customHandler.description.defaultExecutablePath"
case "$exe_name" in
    */*) die "defaultExecutablePath '$exe_name' should be a bare file name in the app root" ;;
esac

# Where cargo puts its output (CARGO_TARGET_DIR and .cargo/config are honoured).
target_dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')" \
    || die "cargo metadata failed; is this a cargo workspace?"

# Which target: musl when its standard library is installed, else glibc only if allowed.
musl_installed=0
if command -v rustup >/dev/null 2>&1; then
    if rustup target list --installed 2>/dev/null | grep -qx "$musl_target"; then musl_installed=1; fi
elif [ -d "$(rustc --print sysroot)/lib/rustlib/$musl_target" ]; then
    musl_installed=1
fi

if [ "$musl_installed" = 1 ]; then
    target="$musl_target"
    target_args=(--target "$musl_target")
    bin_path="$target_dir/$musl_target/$profile_dir/chargeback"
    # Crates with C code (bundled SQLite) need a musl C compiler.
    if command -v musl-gcc >/dev/null 2>&1; then
        export CC_x86_64_unknown_linux_musl="${CC_x86_64_unknown_linux_musl:-musl-gcc}"
    else
        note "warning: musl-gcc not found; crates that compile C may fail (apt-get install musl-tools)"
    fi
elif [ "$allow_glibc" = 1 ]; then
    target="$(rustc -vV | sed -n 's/^host: //p')"
    target_args=()
    bin_path="$target_dir/$profile_dir/chargeback"
    note "WARNING: the $musl_target target is not installed; building for $target (glibc, dynamically linked) because --allow-glibc was given."
    note "WARNING: this dist/ is for local checks only. Deploy a musl build: rustup target add $musl_target"
else
    die "the Rust target $musl_target is not installed, so a static Linux binary cannot be built.
  Install it:   rustup target add $musl_target && apt-get install -y musl-tools
  or, for a local check only, run: scripts/package.sh --allow-glibc"
fi

if [ "$build" = stale ]; then
    build=1
    if [ -x "$bin_path" ] && [ -z "$(find Cargo.toml Cargo.lock handlers tokenizer -type f -newer "$bin_path" -print -quit 2>/dev/null)" ]; then
        note "using $bin_path: no source is newer (--if-stale)"
        build=0
    fi
fi
if [ "$build" = 1 ]; then
    note "building chargeback ($profile profile, $target)"
    cargo build -p chargeback --bin chargeback --profile "$profile" ${target_args[@]+"${target_args[@]}"}
fi
[ -x "$bin_path" ] || die "binary not found at $bin_path (build it, or drop --no-build)"

# Assemble dist/: host.json, every function folder (a top-level folder holding
# function.json), the binary. Nothing else: no sources, no target/.
case "$out_dir" in
    ""|"/"|".") die "refusing to use '$out_dir' as the output folder" ;;
esac
rm -rf "$out_dir"
mkdir -p "$out_dir"
cp host.json "$out_dir/host.json"

functions=()
for fj in */function.json; do
    [ -f "$fj" ] || continue
    fn="$(dirname "$fj")"
    mkdir -p "$out_dir/$fn"
    cp "$fn/function.json" "$out_dir/$fn/function.json"
    functions+=("$fn")
done
[ "${#functions[@]}" -gt 0 ] || die "no function folders (*/function.json) found"

# install(1) sets the mode explicitly: the exec bit must survive into the zip.
install -m 0755 "$bin_path" "$out_dir/$exe_name"

linkage="unknown"
if command -v file >/dev/null 2>&1; then
    case "$(file -b "$out_dir/$exe_name")" in
        *"statically linked"*|*"static-pie linked"*) linkage="static" ;;
        *"dynamically linked"*) linkage="dynamic (glibc)" ;;
    esac
fi

note "assembled $out_dir/: host.json, ${functions[*]}, $exe_name ($target, $profile, $linkage)"
