#!/usr/bin/env bash
# Smoke test of the real app in a real terminal: start `dl-lab` in a detached tmux session at 160x50, switch to
# the training screen, check the network pane and the pace, start training, check that epochs advance and the run
# folder appears, move the network cursor (the boundary pane shows that neuron's map), quit with q.
#   tests/tui/tmux_smoke.sh            (DL_LAB=path/to/dl-lab to choose the executable)
set -euo pipefail

DL_LAB=${DL_LAB:-dl-lab}
WORK=$(mktemp -d)
SESSION="dl-lab-smoke-$$"
export DL_LAB_RUNS="$WORK/runs"
# a server of its own (its own socket, no user configuration): nothing of the user's tmux is touched or read
tm() { tmux -L "$SESSION" -f /dev/null "$@"; }
trap 'tm kill-server 2>/dev/null || true; rm -rf "$WORK"' EXIT

screen() { tm capture-pane -p -t "$SESSION"; }

wait_for() {  # wait_for PATTERN SECONDS: poll the screen until PATTERN shows
    local pattern=$1 deadline=$((SECONDS + $2))
    until screen | grep -Eq -- "$pattern"; do
        if ((SECONDS > deadline)); then
            echo "FAIL: no '$pattern' on the screen after $2 s; the screen was:" >&2
            screen >&2
            exit 1
        fi
        sleep 0.2
    done
}

epoch() { screen | grep -Eo 'epoch [0-9]+/' | head -1 | grep -Eo '[0-9]+'; }

cd "$WORK"
# the window is 160x50 from the start (a fresh server's default is 80x24: the app, started during the resize, could
# read the old size), and an Escape is not merged with the key after it (Alt+key)
tm start-server \; set-option -g default-size 160x50 \; set-option -s escape-time 0 \; \
    new-session -d -s "$SESSION" -x 160 -y 50 "sleep 0.5; $DL_LAB; echo dl-lab exited with \$?; sleep 5"
wait_for 'Train' 30                     # the footer of the first screen
tm send-keys -t "$SESSION" 2
wait_for 'ready' 30                     # the training screen, its session prepared
wait_for 'pace 120 steps/s' 10          # the spiral is watched at a pace
wait_for '0 dense 32 relu' 10           # the network pane: a column per dense layer
wait_for 'x1' 10                        # and the input features
tm send-keys -t "$SESSION" Space
wait_for 'running|completed' 15
wait_for 'epoch [1-9][0-9]*/' 30
first=$(epoch)
sleep 2
second=$(epoch)
if ! screen | grep -q completed && ((second <= first)); then
    echo "FAIL: the epochs did not advance ($first, then $second)" >&2
    screen >&2
    exit 1
fi
run_dir=$(find "$DL_LAB_RUNS" -mindepth 1 -maxdepth 1 -type d | head -1)
[[ -n "$run_dir" && -f "$run_dir/metrics.jsonl" && -f "$run_dir/session.yaml" ]] || {
    echo "FAIL: no run folder with metrics.jsonl in $DL_LAB_RUNS" >&2
    exit 1
}
wait_for "$(basename "$run_dir")" 15    # the run folder's name on the status line
tm send-keys -t "$SESSION" Right Right Down   # the cursor, then the first hidden layer's unit 1
wait_for 'dense 32 relu: unit 1' 10     # its map fills the boundary pane, titled by it
tm send-keys -t "$SESSION" Escape
wait_for 'decision boundary' 10         # the boundary again (and the app past its escape delay before q)
tm send-keys -t "$SESSION" q
wait_for 'dl-lab exited with 0' 30
echo "ok: epochs $first -> $second, run folder $(basename "$run_dir")"
