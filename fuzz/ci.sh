#!/usr/bin/env bash
# Runs every fuzz target briefly, as CI and `just fuzz` do: nightly and
# cargo-fuzz are installed if missing, every target is built once, then each
# replays its seed corpus (seeds/<target>, from the unit tables) and fuzzes
# for FUZZ_SECONDS (default 20, as the issue asks). A property that breaks fails the script
# with libFuzzer's report; the input is kept in artifacts/<target>/.
# Corpora grow in FUZZ_CORPUS/<target> (default corpus/, not committed).
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECONDS:-20}"
corpus="${FUZZ_CORPUS:-corpus}"
start=$(date +%s)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

cargo +nightly fuzz build
for t in $(cargo +nightly fuzz list); do
  mkdir -p "$corpus/$t"
  log=$(mktemp)
  # -timeout: an input taking over 10 s is a hang, which is a finding too
  if ! cargo +nightly fuzz run "$t" "$corpus/$t" "seeds/$t" -- \
      -max_total_time="$secs" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    grep -A4 'panicked at\|ERROR: libFuzzer\|ERROR: AddressSanitizer' "$log" | head -n 30 || true
    tail -n 25 "$log"
    echo "fuzz: $t FAILED (reproduce: cargo +nightly fuzz run $t artifacts/$t/<file>)" >&2
    rm -f "$log"
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
  echo "fuzz: $t ok, $runs runs in ${secs}s, ${cov:-cov: ?}"
  rm -f "$log"
done
echo "fuzz: all targets clean in $(( $(date +%s) - start ))s"
