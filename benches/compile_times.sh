#!/usr/bin/env bash
# Compile times as a user meets them: the library's own release build from nothing, and a
# project of the user's that depends on it by path (a fresh `cargo new`, its own target
# directory): its first release build, its release build after a one-line edit (the
# quickstart, and the digits CNN trained with Adam), and `cargo check` and a debug build after
# a one-line edit of the ResNet example. Edits are timed 3 times each; the median and the range
# are printed. Downloads are not timed (`cargo fetch` runs first).
#
#   benches/compile_times.sh
#
# Needs only the Rust toolchain. Leaves nothing behind but its temporary directory, removed
# at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset CARGO_TARGET_DIR

now() { date +%s.%N; }
# Runs "$@" quietly and prints its wall time in seconds.
timed() {
    local t0
    t0=$(now)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }
    awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }'
}
# Median and range of three timings of an edit followed by "$@" in the app.
edits() {
    local file=$1
    shift
    local ts=()
    for i in 1 2 3; do
        echo "// edit $i $(now)" >>"$file"
        ts+=("$(timed "$@")")
    done
    printf '%s\n' "${ts[@]}" | sort -g |
        awk '{ v[NR] = $1 } END { printf "%.2f s (%.2f-%.2f)", v[2], v[1], v[3] }'
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
echo "rustc:   $(rustc --version)"
(cd "$root" && cargo fetch --quiet)

lib=$(cd "$root" && export CARGO_TARGET_DIR="$work/lib-target" && timed cargo build --release)
printf 'library alone, release, from nothing: %.1f s\n' "$lib"

app="$work/app"
cargo new --quiet --bin "$app"
cat >>"$app/Cargo.toml" <<EOF
shaped = { path = "$root" }
EOF
cp "$root/examples/quickstart.rs" "$app/src/main.rs"
(cd "$app" && cargo fetch --quiet)
first=$(cd "$app" && timed cargo build --release)
printf 'your project, first release build:    %.1f s\n' "$first"
echo "your project, release build after an edit:"
echo "  quickstart:            $(cd "$app" && edits src/main.rs cargo build --release)"

# What the digits examples read their data and draw their progress bar with (the versions of
# the crate's dev-dependencies), added after the first build so that it is the crate's alone.
dev() { sed -n "s/^$1 = \(\".*\"\)/\1/p" "$root/Cargo.toml"; }
cat >>"$app/Cargo.toml" <<EOF
flate2 = $(dev flate2)
indicatif = $(dev indicatif)
EOF
cp -r "$root/examples/common" "$app/src/common"
cp "$root/examples/digits.rs" "$app/src/main.rs"
(cd "$app" && timed cargo build --release >/dev/null)
echo "  digits CNN with Adam:   $(cd "$app" && edits src/main.rs cargo build --release)"

cp "$root/examples/resnet.rs" "$app/src/main.rs"
(cd "$app" && timed cargo build >/dev/null && timed cargo check >/dev/null)
echo "ResNet example, after an edit:"
echo "  cargo check:           $(cd "$app" && edits src/main.rs cargo check)"
echo "  debug build:           $(cd "$app" && edits src/main.rs cargo build)"
