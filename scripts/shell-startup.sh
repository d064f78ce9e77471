#!/usr/bin/env bash
# What caro's shell integration costs:
#   1. start-up time of interactive zsh, bash and fish, with and without the
#      init line (mean of N runs, in ms);
#   2. with --latency and a running daemon: keypress -> line replaced, in a
#      tmux pane, for ten everyday requests.
#
# usage: scripts/shell-startup.sh [-n RUNS] [--caro PATH] [--latency]
#                                 [--shell zsh|bash] [--no-startup]
#
# Start-up is measured on a terminal (the init does nothing without one), so
# when stdin is not a tty the measurement re-runs itself under script(1).
set -euo pipefail

runs=30
caro=''
latency=0
startup=1
lat_shell=zsh
while [ "$#" -gt 0 ]; do
	case $1 in
	-n) runs=$2; shift ;;
	--caro) caro=$2; shift ;;
	--latency) latency=1 ;;
	--no-startup) startup=0 ;;
	--shell) lat_shell=$2; shift ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "shell-startup.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

if [ -z "$caro" ]; then
	here=$(cd "$(dirname "$0")/.." && pwd)
	for c in "$here/target/release/caro" "$here/target/debug/caro" "$(command -v caro || true)"; do
		if [ -n "$c" ] && [ -x "$c" ]; then caro=$c; break; fi
	done
fi
if [ -z "$caro" ] || [ ! -x "$caro" ]; then
	echo "shell-startup.sh: no caro binary; pass --caro PATH" >&2
	exit 1
fi
caro=$(cd "$(dirname "$caro")" && pwd)/$(basename "$caro")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/caro-startup.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# --- 1. start-up ---------------------------------------------------------------

# One shell start, timed in microseconds: SHELL VARIANT.
start_cmd() {
	local sh=$1 variant=$2 d=$tmp/$1-$2
	case $sh in
	zsh) echo "ZDOTDIR=$(q "$d") zsh -i -c exit" ;;
	bash) echo "bash --noprofile --rcfile $(q "$d/.bashrc") -i -c exit" ;;
	fish) echo "XDG_CONFIG_HOME=$(q "$d") fish -i -c exit" ;;
	esac
}

write_rcs() {
	local sh variant d line
	for sh in zsh bash fish; do
		for variant in without with; do
			d=$tmp/$sh-$variant
			mkdir -p "$d/fish"
			case $sh in
			zsh | bash) line="eval \"\$($(q "$caro") init $sh)\"" ;;
			fish) line="$(q "$caro") init fish | source" ;;
			esac
			[ "$variant" = with ] || line=':'
			case $sh in
			zsh) printf "PS1='%% '\n%s\n" "$line" >"$d/.zshrc" ;;
			bash) printf "PS1='$ '\n%s\n" "$line" >"$d/.bashrc" ;;
			fish) printf 'set -g fish_greeting\n%s\n' "$line" >"$d/fish/config.fish" ;;
			esac
		done
	done
}

# Runs inside a terminal: prints "shell without_ms with_ms".
measure_startup() {
	local sh variant cmd i t0 t1 total
	for sh in zsh bash fish; do
		command -v "$sh" >/dev/null || { echo "$sh - -"; continue; }
		printf '%s' "$sh"
		for variant in without with; do
			cmd=$(start_cmd "$sh" "$variant")
			for i in 1 2 3; do eval "$cmd" </dev/tty >/dev/null 2>&1; done
			total=0
			for ((i = 0; i < runs; i++)); do
				t0=${EPOCHREALTIME/./}
				eval "$cmd" </dev/tty >/dev/null 2>&1
				t1=${EPOCHREALTIME/./}
				total=$((total + t1 - t0))
			done
			printf ' %d' $((total / runs))
		done
		printf '\n'
	done
}

if [ "$startup" = 1 ]; then
	write_rcs
	if [ "${1:-}" = --inner ] || [ -t 0 ]; then
		results=$(measure_startup)
	elif command -v script >/dev/null; then
		# No terminal here: run the same loop on a pseudo-terminal.
		declare -f measure_startup start_cmd q >"$tmp/inner.sh"
		printf 'runs=%d; tmp=%s; caro=%s\nmeasure_startup >%s\n' \
			"$runs" "$(q "$tmp")" "$(q "$caro")" "$(q "$tmp/results")" >>"$tmp/inner.sh"
		script -qec "bash $(q "$tmp/inner.sh")" /dev/null >/dev/null </dev/null
		results=$(cat "$tmp/results")
	else
		echo "shell-startup.sh: needs a terminal (or script(1)) to measure start-up" >&2
		exit 1
	fi
	echo "Interactive shell start-up, mean of $runs runs (ms); caro: $caro"
	printf '%-6s %10s %10s %10s\n' shell without with added
	while read -r sh without with; do
		if [ "$without" = - ]; then
			printf '%-6s %10s\n' "$sh" 'not installed'
			continue
		fi
		awk -v s="$sh" -v a="$without" -v b="$with" \
			'BEGIN { printf "%-6s %10.2f %10.2f %10.2f\n", s, a / 1000, b / 1000, (b - a) / 1000 }'
	done <<<"$results"
fi

# --- 2. keypress -> line replaced ------------------------------------------------

[ "$latency" = 1 ] || exit 0
command -v tmux >/dev/null || { echo "shell-startup.sh: --latency needs tmux" >&2; exit 1; }
if ! "$caro" daemon status >/dev/null 2>&1; then
	echo "shell-startup.sh: --latency wants a running daemon (start one: $caro daemon start)" >&2
	exit 1
fi

requests=(
	"list all files including hidden ones"
	"find files bigger than 100MB here"
	"show disk usage of this folder"
	"count lines in all python files"
	"show the 5 largest files in this directory"
	"search for TODO in all files recursively"
	"show running processes sorted by memory"
	"compress this folder into a tar.gz"
	"show which process listens on port 8080"
	"list files modified in the last day"
)

sock=caro-latency-$$
tm() { tmux -L "$sock" "$@"; }
sock_path=''
stop_tmux() {
	tm kill-server 2>/dev/null || true
	# kill-server leaves the socket file behind.
	[ -z "$sock_path" ] || rm -f "$sock_path"
	cleanup
}
trap stop_tmux EXIT

d=$tmp/latency
mkdir -p "$d"
case $lat_shell in
zsh)
	printf "PS1='BENCH> '\neval \"\$(%s init zsh)\"\n" "$(q "$caro")" >"$d/.zshrc"
	start=(env "ZDOTDIR=$d" zsh -i)
	;;
bash)
	printf "PS1='BENCH> '\neval \"\$(%s init bash)\"\n" "$(q "$caro")" >"$d/.bashrc"
	start=(bash --noprofile --rcfile "$d/.bashrc" -i)
	;;
*) echo "shell-startup.sh: --shell zsh or bash" >&2; exit 2 ;;
esac
tm -f /dev/null new-session -d -s b -x 200 -y 50 -- "${start[@]}"
sock_path=$(tm display-message -p '#{socket_path}')

# The edited line, or BUSY while a request runs: bash blanks the prompt line
# during a binding, and a progress note shows under it.
line() {
	local screen last
	screen=$(tm capture-pane -p -t b)
	last=$(printf '%s\n' "$screen" | grep -v '^[[:space:]]*$' | grep -v '^caro:' | tail -n 1)
	if [[ $screen == *'caro: thinking'* || $screen == *'caro: loading'* || $last != BENCH\>* ]]; then
		echo BUSY
	else
		printf '%s\n' "$last" | sed 's/^BENCH> \{0,1\}//'
	fi
}
wait_line() { # until line == $1 (or, with -n, a finished line != $2); 60 s at most
	local i l
	for ((i = 0; i < 6000; i++)); do
		if [ "$1" = -n ]; then
			l=$(line)
			[ "$l" != "$2" ] && [ "$l" != BUSY ] && return 0
		else
			[ "$(line)" = "$1" ] && return 0
		fi
		sleep 0.01
	done
	return 1
}
wait_line '' || { echo "shell-startup.sh: no prompt in tmux" >&2; exit 1; }

echo
echo "Keypress -> line replaced ($lat_shell in tmux, daemon running), ms:"
total=0
n=0
for r in "${requests[@]}"; do
	# A clean screen, so that no earlier prompt line is mistaken for the
	# answer while bash has the current one blanked.
	tm send-keys -t b C-c
	wait_line '' || true
	tm send-keys -t b C-l
	tm send-keys -t b -l -- "$r"
	wait_line "$r" || { echo "shell-startup.sh: the request did not show up" >&2; exit 1; }
	t0=${EPOCHREALTIME/./}
	tm send-keys -t b C-g
	if wait_line -n "$r"; then
		t1=${EPOCHREALTIME/./}
		ms=$(((t1 - t0) / 1000))
		total=$((total + ms))
		n=$((n + 1))
		printf '%6d  %-45s -> %s\n' "$ms" "$r" "$(line)"
	else
		printf '%6s  %-45s -> (no answer in 60 s)\n' - "$r"
	fi
done
[ "$n" -gt 0 ] && printf '%6d  mean of %d\n' $((total / n)) "$n"
