#!/usr/bin/env bash
# Compile times as a user meets them: the library's own release build from nothing, and a
# project of the user's that depends on it by path (a fresh `cargo new`, its own target
# directory): its first release build, its release build after a one-line edit (the
# quickstart, and the digits CNN trained with Adam), and `cargo check` and a debug build after
# a one-line edit of the ResNet example. An edit changes a statement at the top of `main`'s
# body (`let _edit = N;`), so the compiler checks `main` again. Edits are timed 3 times each;
# the median and the range are printed. Downloads are not timed (`cargo fetch` runs first).
#
#   benches/compile_times.sh
#
# Needs the Rust toolchain and a Linux userland (GNU `date` for nanoseconds, awk, sed). Leaves
# nothing behind: its temporary directory is removed at the end.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C
# A compiler cache would make "from nothing" warm.
unset RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset CARGO_TARGET_DIR

now() { date +%s.%N; }
[[ "$(now)" =~ ^[0-9]+\.[0-9]+$ ]] || { echo "needs GNU date (date +%N)" >&2; exit 1; }
# Runs "$@" quietly and prints its wall time in seconds.
timed() {
    local t0
    t0=$(now)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }
    awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }'
}
# The statement the edits change, put at the top of `main`'s body of `$1`.
mark() { sed -i '0,/^fn main(.*{$/s//&\n    let _edit = 0;/' "$1"; grep -q 'let _edit = 0;' "$1"; }
# Median and range of three timings of an edit of `$1` followed by the rest, in the app.
edits() {
    local file=$1
    shift
    local ts=() t
    for i in 1 2 3; do
        sed -i "s/let _edit = [0-9]*;/let _edit = $i;/" "$file"
        t=$(timed "$@")
        ts+=("$t")
    done
    printf '%s\n' "${ts[@]}" | sort -g |
        awk '{ v[NR] = $1 } END { printf "%.2f s (%.2f-%.2f)", v[2], v[1], v[3] }'
}

cpu=$(sed -n 's/^model name\t*: *//p' /proc/cpuinfo 2>/dev/null | head -1)
echo "machine: ${cpu:-$(uname -m)}, $(nproc) cores"
echo "rustc:   $(rustc --version)"
echo "(after an edit: the median of 3 builds, and their range)"
(cd "$root" && cargo fetch --quiet)

lib=$(cd "$root" && export CARGO_TARGET_DIR="$work/lib-target" && timed cargo build --release)
printf 'library alone, release, from nothing: %.1f s\n' "$lib"

app="$work/app"
cargo new --quiet --bin "$app"
cat >>"$app/Cargo.toml" <<EOF
shaped = { path = "$root" }
EOF
cp "$root/examples/quickstart.rs" "$app/src/main.rs"
mark "$app/src/main.rs"
(cd "$app" && cargo fetch --quiet)
first=$(cd "$app" && timed cargo build --release)
printf 'your project, first release build:    %.1f s\n' "$first"
quickstart=$(cd "$app" && edits src/main.rs cargo build --release)
echo "your project, release build after an edit:"
echo "  quickstart:            $quickstart"

# What the digits examples read their data and draw their progress bar with (the versions of
# the crate's dev-dependencies), added after the first build so that it is the crate's alone.
dev() { sed -n "s/^$1 = \(\".*\"\)/\1/p" "$root/Cargo.toml"; }
cat >>"$app/Cargo.toml" <<EOF
flate2 = $(dev flate2)
indicatif = $(dev indicatif)
EOF
cp -r "$root/examples/common" "$app/src/common"
cp "$root/examples/digits.rs" "$app/src/main.rs"
mark "$app/src/main.rs"
(cd "$app" && timed cargo build --release >/dev/null)
digits=$(cd "$app" && edits src/main.rs cargo build --release)
echo "  digits CNN with Adam:   $digits"

cp "$root/examples/resnet.rs" "$app/src/main.rs"
mark "$app/src/main.rs"
(cd "$app" && timed cargo build >/dev/null && timed cargo check >/dev/null)
check=$(cd "$app" && edits src/main.rs cargo check)
debug=$(cd "$app" && edits src/main.rs cargo build)
echo "ResNet example, after an edit:"
echo "  cargo check:           $check"
echo "  debug build:           $debug"
