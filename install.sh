#!/bin/sh
# Install caro and hook it into your shell.
#
#   ./install.sh                    build, install to ~/.local/bin, set up $SHELL
#   ./install.sh --shell zsh,fish   set up these shells instead
#   ./install.sh --no-rc            install only; print the line to add yourself
#   ./install.sh --uninstall        remove the binary and the rc blocks again
#
# Run ./install.sh --help for every option.
set -eu

BEGIN_MARK='# >>> caro >>>'
END_MARK='# <<< caro <<<'

usage() {
	cat <<'EOF'
Usage: install.sh [options]

Builds caro with cargo, installs it into PREFIX/bin and adds one line, inside a
"# >>> caro >>>" block, to your shell's rc file. Nothing in an rc file changes
without being shown first; you are asked unless --yes is given, and when there
is no terminal to ask on, install.sh only prints the line to add.

Options:
  --prefix DIR     install into DIR/bin (default: $CARGO_INSTALL_ROOT, else ~/.local)
  --shell LIST     zsh, bash and/or fish, comma separated (default: from $SHELL)
  --no-rc          do not touch rc files; print the line to add
  --yes, -y        edit rc files without asking
  --no-build       do not run cargo; install the binary given with --bin
                   (or keep the one already in PREFIX/bin)
  --bin PATH       the caro binary to install, without its debug information
                   when strip is available (implies --no-build)
  --features LIST  cargo features to build with (e.g. cuda, metal)
  --uninstall      remove PREFIX/bin/caro and the caro blocks from rc files
  -h, --help       show this help
EOF
}

say() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

# --- options -----------------------------------------------------------------

prefix=${CARGO_INSTALL_ROOT:-${HOME:?HOME is not set}/.local}
shells=''
edit_rc=1
assume_yes=0
build=1
bin_src=''
features=''
uninstall=0

need_arg() { [ "$#" -ge 2 ] || die "$1 needs a value"; }

while [ "$#" -gt 0 ]; do
	case $1 in
	--prefix) need_arg "$@"; prefix=$2; shift ;;
	--prefix=*) prefix=${1#*=} ;;
	--shell) need_arg "$@"; shells="$shells,$2"; shift ;;
	--shell=*) shells="$shells,${1#*=}" ;;
	--no-rc) edit_rc=0 ;;
	--yes | -y) assume_yes=1 ;;
	--no-build) build=0 ;;
	--bin) need_arg "$@"; bin_src=$2; build=0; shift ;;
	--bin=*) bin_src=${1#*=}; build=0 ;;
	--features) need_arg "$@"; features=$2; shift ;;
	--features=*) features=${1#*=} ;;
	--uninstall) uninstall=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option: $1" ;;
	esac
	shift
done

case $prefix in
/*) ;;
'') die "--prefix is empty" ;;
*) prefix=$(pwd)/$prefix ;;
esac
target=$prefix/bin/caro

# Shells to set up: --shell, else the login shell.
shell_given=0
if [ -n "$(printf '%s' "$shells" | tr -d ',')" ]; then
	shell_given=1
else
	shells=$(basename -- "${SHELL:-}")
fi
shell_list=''
old_ifs=$IFS
IFS=,
for s in $shells; do
	case $s in
	'') ;;
	zsh | bash | fish)
		case " $shell_list " in
		*" $s "*) ;;
		*) shell_list="$shell_list $s" ;;
		esac
		;;
	*)
		IFS=$old_ifs
		if [ "$uninstall" = 0 ] && [ "$edit_rc" = 1 ]; then
			die "cannot set up shell '$s'; pass --shell zsh, bash or fish (or --no-rc)"
		fi
		;;
	esac
done
IFS=$old_ifs

# Asking needs a terminal on both ends; pipes and CI get the printed line.
interactive=0
if [ -t 0 ] && [ -t 1 ]; then
	interactive=1
fi

# --- helpers -----------------------------------------------------------------

rc_file() {
	case $1 in
	zsh) printf '%s\n' "${ZDOTDIR:-$HOME}/.zshrc" ;;
	bash) printf '%s\n' "$HOME/.bashrc" ;;
	fish) printf '%s\n' "${XDG_CONFIG_HOME:-$HOME/.config}/fish/config.fish" ;;
	esac
}

# 'text' with every ' written as '\'' (sh, bash, zsh).
sh_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
# 'text' with \ and ' backslash-escaped (fish).
fish_quote() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"; }

# The line that loads the integration; guarded so that a removed binary
# leaves the shell starting cleanly.
init_line() {
	case $1 in
	zsh | bash)
		q=$(sh_quote "$target")
		# shellcheck disable=SC2016 # the $( ) is for the rc file, not for us
		printf 'if [ -x %s ]; then eval "$(%s init %s)"; fi\n' "$q" "$q" "$1"
		;;
	fish)
		q=$(fish_quote "$target")
		printf 'if test -x %s; %s init fish | source; end\n' "$q" "$q"
		;;
	esac
}

NOTE="# Added by caro's install.sh; 'install.sh --uninstall' removes this block."
# Used instead when the file did not end in a newline and we added one, so
# that --uninstall can take it away again.
NOTE_JOINED="# Added by caro's install.sh, which also ended the line above; 'install.sh --uninstall' removes this block."

# The block for SHELL; JOINED=1 picks the second note.
block() {
	say "$BEGIN_MARK"
	if [ "${2:-0}" = 1 ]; then say "$NOTE_JOINED"; else say "$NOTE"; fi
	init_line "$1"
	say "$END_MARK"
}

# Prints FILE's caro block (markers included), if it has one.
current_block() {
	[ -f "$1" ] || return 0
	awk -v b="$BEGIN_MARK" -v e="$END_MARK" '
		$0 == b { inside = 1 }
		inside { print }
		inside && $0 == e { exit }
	' "$1"
}

has_begin() { [ -f "$1" ] && grep -qxF -- "$BEGIN_MARK" "$1"; }
has_end() { [ -f "$1" ] && grep -qxF -- "$END_MARK" "$1"; }

# True when FILE is non-empty and its last byte is not a newline.
lacks_final_newline() {
	[ -s "$1" ] && [ "$(tail -c 1 -- "$1" | od -An -c | tr -d ' ')" != '\n' ]
}

# Rewrites FILE with the caro block replaced by the contents of NEWBLOCK (a
# file; empty to delete the block). Lines outside the block, and whether the
# file ends in a newline, stay exactly as they were. The content is written
# through the existing file, so symlinked dotfiles and permissions survive.
rewrite_block() {
	file=$1
	newblock=$2
	tmp=$(mktemp "${TMPDIR:-/tmp}/caro-rc.XXXXXX")
	final_nl=1
	if lacks_final_newline "$file"; then final_nl=0; fi
	awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v j="$NOTE_JOINED" \
		-v nb="$newblock" -v final_nl="$final_nl" '
		function emit(line) {
			if (started) printf "\n"
			printf "%s", line
			started = 1
		}
		!inside && $0 == b {
			inside = 1
			while ((getline l < nb) > 0) { emit(l); wrote_block = 1 }
			next
		}
		inside {
			if ($0 == j) joined = 1
			if ($0 == e) { inside = 0; block_last = 1 }
			next
		}
		{ emit($0); block_last = 0 }
		END {
			# A deleted block that we appended after a line without newline
			# takes its newline with it.
			if (joined && block_last && !wrote_block) final_nl = 0
			if (started && final_nl) printf "\n"
		}
	' "$file" >"$tmp" || {
		rm -f -- "$tmp"
		die "could not rewrite $file"
	}
	cat -- "$tmp" >"$file"
	rm -f -- "$tmp"
}

# FILE's path with the directory part resolved (pwd -P), to compare files.
physical() {
	d=$(dirname -- "$1")
	if [ -d "$d" ]; then
		printf '%s/%s\n' "$(cd -- "$d" && pwd -P)" "$(basename -- "$1")"
	else
		printf '%s\n' "$1"
	fi
}

# Asks QUESTION; true for yes. Only called when interactive.
confirm() {
	printf '%s [y/N] ' "$1"
	read -r answer || answer=''
	case $answer in
	[yY] | [yY][eE][sS]) return 0 ;;
	*) return 1 ;;
	esac
}

# May we edit FILE? --yes: yes. A terminal: ask. Otherwise: no.
may_edit() {
	if [ "$assume_yes" = 1 ]; then return 0; fi
	if [ "$interactive" = 1 ]; then confirm "$1"; return; fi
	return 1
}

# --- uninstall ---------------------------------------------------------------

if [ "$uninstall" = 1 ]; then
	# Every rc file we might have written, unless --shell narrowed it.
	candidates='zsh bash fish'
	if [ "$shell_given" = 1 ] && [ -n "$shell_list" ]; then
		candidates=$shell_list
	fi
	left=0
	for s in $candidates; do
		rc=$(rc_file "$s")
		has_begin "$rc" || continue
		has_end "$rc" || die "$rc has '$BEGIN_MARK' but no '$END_MARK'; fix it by hand"
		say "The caro block in $rc:"
		current_block "$rc" | sed 's/^/    /'
		if may_edit "Remove it from $rc?"; then
			empty=$(mktemp "${TMPDIR:-/tmp}/caro-empty.XXXXXX")
			rewrite_block "$rc" "$empty"
			rm -f -- "$empty"
			say "Removed it from $rc."
		else
			left=1
			say "Left $rc unchanged; delete those lines yourself (or rerun with --yes)."
		fi
	done

	if [ -e "$target" ]; then
		# cargo keeps a record of what it installed under the prefix.
		if command -v cargo >/dev/null 2>&1 && [ -f "$prefix/.crates.toml" ] &&
			grep -q '^"caro ' "$prefix/.crates.toml"; then
			cargo uninstall --root "$prefix" caro >/dev/null 2>&1 || true
		fi
		rm -f -- "$target"
		say "Removed $target."
	else
		say "No binary at $target."
	fi
	model_dir=${XDG_CACHE_HOME:-$HOME/.cache}/caro
	if [ -d "$model_dir" ]; then
		say "The model stays in $model_dir; delete that folder to free the space."
	fi
	[ "$left" = 0 ] || say "Nothing else changed."
	exit 0
fi

# --- install the binary ------------------------------------------------------

if [ "$build" = 1 ]; then
	src_dir=$(cd -- "$(dirname -- "$0")" && pwd)
	[ -f "$src_dir/Cargo.toml" ] || die "run install.sh from the caro source tree (no Cargo.toml in $src_dir)"
	command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust from https://rustup.rs and run this again"
	say "Building caro (release; this takes a few minutes the first time)..."
	# The dist profile is the release build without debug information, which is
	# most of its size; caro-eval, the quality harness, is not installed.
	if [ -n "$features" ]; then
		cargo install --path "$src_dir" --locked --root "$prefix" --profile dist --bin caro --features "$features"
	else
		cargo install --path "$src_dir" --locked --root "$prefix" --profile dist --bin caro
	fi
	[ -x "$target" ] || die "cargo install finished but $target is missing"
elif [ -n "$bin_src" ]; then
	if [ ! -f "$bin_src" ] || [ ! -x "$bin_src" ]; then
		die "--bin $bin_src is not an executable file"
	fi
	if [ "$(physical "$bin_src")" != "$(physical "$target")" ]; then
		mkdir -p -- "$prefix/bin"
		# Copy next to the target, then rename: a running caro keeps its file.
		part=$prefix/bin/.caro.part.$$
		# Without debug information, as the dist build: a debug build carries
		# hundreds of MB of it.
		if ! { command -v strip >/dev/null 2>&1 && strip -S -o "$part" "$bin_src" 2>/dev/null; }; then
			cp -- "$bin_src" "$part" || die "could not copy $bin_src to $prefix/bin"
		fi
		chmod 755 -- "$part"
		mv -f -- "$part" "$target"
	fi
else
	[ -x "$target" ] || die "--no-build needs --bin PATH (no caro installed at $target yet)"
fi
say "Installed $target."

# --- shell set-up ------------------------------------------------------------

if [ -z "$shell_list" ] && [ "$edit_rc" = 1 ]; then
	die "could not tell your shell from \$SHELL='${SHELL:-}'; pass --shell zsh, bash or fish (or --no-rc)"
fi

for s in $shell_list; do
	# The binary must be able to print the script before any rc file points
	# at it.
	"$target" init "$s" >/dev/null || die "'$target init $s' failed; rc files left unchanged"
done

for s in $shell_list; do
	rc=$(rc_file "$s")
	joined=0
	if has_begin "$rc"; then
		if current_block "$rc" | grep -qxF -- "$NOTE_JOINED"; then joined=1; fi
	elif lacks_final_newline "$rc"; then
		joined=1
	fi
	new=$(mktemp "${TMPDIR:-/tmp}/caro-block.XXXXXX")
	block "$s" "$joined" >"$new"

	if [ "$edit_rc" = 0 ]; then
		say "To use caro in $s, add this to $rc:"
		sed 's/^/    /' "$new"
		rm -f -- "$new"
		continue
	fi

	if has_begin "$rc"; then
		has_end "$rc" || {
			rm -f -- "$new"
			die "$rc has '$BEGIN_MARK' but no '$END_MARK'; fix it by hand"
		}
		if [ "$(current_block "$rc")" = "$(cat -- "$new")" ]; then
			say "$rc already loads caro."
			rm -f -- "$new"
			continue
		fi
		say "Updating the caro block in $rc to:"
		action=update
	else
		say "Adding to the end of $rc:"
		action=append
	fi
	sed 's/^/    /' "$new"

	if may_edit "Change $rc?"; then
		if [ "$action" = update ]; then
			rewrite_block "$rc" "$new"
		else
			mkdir -p -- "$(dirname -- "$rc")"
			if lacks_final_newline "$rc"; then printf '\n' >>"$rc"; fi
			cat -- "$new" >>"$rc"
		fi
		say "Done; new $s sessions load caro (this one: source $rc)."
	else
		if [ "$interactive" = 0 ] && [ "$assume_yes" = 0 ]; then
			say "Not changing $rc without a terminal to ask on; add the lines above yourself, or rerun with --yes."
		else
			say "Left $rc unchanged; add the lines above yourself."
		fi
	fi
	rm -f -- "$new"
done

# --- what next ---------------------------------------------------------------

case ":${PATH:-}:" in
*":$prefix/bin:"*) ;;
*) say "Note: $prefix/bin is not on your PATH; add it to run caro by name." ;;
esac

# caro knows its model file's name and where it looks; ask it rather than repeat them.
if model=$("$target" model path 2>/dev/null); then
	say "Model found at $model."
else
	say "Next: download the model (about 1 GB) with:  caro model pull"
fi
if [ -n "$shell_list" ]; then
	say "Then type what you want at the prompt and press Ctrl-G."
fi
