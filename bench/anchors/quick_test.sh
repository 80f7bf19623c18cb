#!/bin/sh
# quick_test.sh CAF_BINARY ERL BEAM_DIR: the test bench_anchors_quick. Runs
# each anchor that was built (an empty argument means "not built") once with
# --quick and checks that it printed every workload's line. Exits 77 (skip)
# when neither anchor was built. Never judges a figure.
set -u

caf=${1:-}
erl=${2:-}
beamdir=${3:-}
ran=0
status=0

check() { # check WHO OUTPUT: every workload printed its line
    for w in fanout hot pingpong memory; do
        if ! printf '%s\n' "$2" | grep -q "^bench $1 $w "; then
            echo "quick_test: no 'bench $1 $w' line" >&2
            status=1
        fi
    done
}

if [ -n "$caf" ] && [ -x "$caf" ]; then
    for policy in stealing sharing; do
        if out=$("$caf" --quick --policy "$policy"); then
            printf '%s\n' "$out"
            check caf "$out"
        else
            echo "quick_test: anchor_caf --policy $policy failed" >&2
            status=1
        fi
    done
    ran=1
fi
if [ -n "$erl" ] && [ -f "$beamdir/anchor_erlang.beam" ]; then
    if out=$(ERL_CRASH_DUMP_SECONDS=0 "$erl" -noshell +P 2000000 -pa "$beamdir" \
        -run anchor_erlang main -extra --quick); then
        printf '%s\n' "$out"
        check erlang "$out"
    else
        echo "quick_test: anchor_erlang failed" >&2
        status=1
    fi
    ran=1
fi
if [ "$ran" -eq 0 ]; then
    echo "quick_test: no anchor built (CAF and erlc not found): skipped"
    exit 77
fi
exit "$status"
