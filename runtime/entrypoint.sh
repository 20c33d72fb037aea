#!/usr/bin/env bash
# proctor runtime entrypoint: runs the participant's main.sh or main.py from /code_execution/src.
#
# - The code folder is mounted read-only, so the program runs in a writable working folder, /tmp/work (on
#   the /tmp tmpfs; HOME=/tmp), in which every top-level entry of /code_execution/src is symlinked, and
#   data -> /code_execution/data and submission -> /code_execution/submission, as in DrivenData's runtimes:
#   code that reads its model files or data/ relatively, writes submission/submission.csv, or writes files
#   of its own next to them, all work. ../data (= /tmp/data) is the data folder too. Absolute
#   /code_execution/... paths work as well, and /codeexecution/... (the image links it to /tmp/work) reads
#   the working folder, as DrivenData's older runtimes unzipped the submission into /codeexecution.
# - With PROCTOR_INTERACTIVE=1 (make interact-container), it sets up the same working folder, then starts
#   an interactive bash there instead of the program.
# - Every line this script logs, and every line the program prints, is prefixed with a UTC timestamp;
#   stdout stays stdout and stderr stays stderr.
# - The exit status is the program's own when it fails (128+N when killed by signal N). When it exits 0
#   but left no /code_execution/submission/$PROCTOR_EXPECTED_OUTPUT (default submission.csv), it copies
#   ./$PROCTOR_EXPECTED_OUTPUT from the working folder there, as DrivenData's runtimes do; without one, it
#   says where files of that name or extension were written, and exits 65; when there is no main.sh or
#   main.py to run, 66. It never exits 0 in either case. An expected output named with {id} (e.g.
#   {id}.tif) is a folder of files, one per id: nothing is copied, and it exits 65 only when no file at all
#   is in /code_execution/submission.
#
# With arguments (`docker run IMAGE python3 /opt/proctor/tests/test_imports.py`, `docker run -it IMAGE bash`),
# it runs them as they are instead.
#
# Docker's init (the sandbox runs with --init) is PID 1; SIGTERM sent to this script is passed on to the
# program, so it can save its work before the grace period ends.
set -uo pipefail

if [ "$#" -gt 0 ]; then
  exec "$@"
fi

readonly SRC_DIR=/code_execution/src
readonly SUBMISSION_DIR=/code_execution/submission
readonly EXPECTED_OUTPUT=${PROCTOR_EXPECTED_OUTPUT:-submission.csv}
readonly EXIT_OUTPUT_MISSING=65
readonly EXIT_NO_MAIN=66
readonly EXIT_SETUP_FAILED=70

# The timestamp format of every line: ISO 8601 in UTC, to the second.
readonly STAMP_FORMAT='%Y-%m-%dT%H:%M:%SZ'

log() {
  TZ=UTC printf "%($STAMP_FORMAT)T [proctor] %s\n" -1 "$*" >&2
}

# stamp: copies stdin to stdout line by line, each line prefixed with the time it arrived. A line longer than
# 64 KiB goes out in pieces as it arrives (cut at a UTF-8 character boundary), each piece after the first
# stamped "<time>+ " instead of "<time> ": an endless line never holds up the lines after it, nor grows
# our memory. perl (perl-base is in every Debian and Ubuntu image) reads what the pipe holds, so lines are
# stamped when they are printed; mawk -W interactive, which did this before, takes quadratic time on a
# long line. Without perl, a (slower) bash loop stamps whole lines.
if command -v perl >/dev/null 2>&1; then
  stamp() {
    # shellcheck disable=SC2016 # perl's variables, not the shell's
    perl -e '
      use strict; use warnings;
      my ($cap, $buf, $more) = (65536, "", 0);
      binmode STDIN; binmode STDOUT; $| = 1;
      sub put {
        my @t = gmtime;
        printf "%04d-%02d-%02dT%02d:%02d:%02dZ%s %s\n", $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0],
          $more ? "+" : "", $_[0];
      }
      while (sysread STDIN, $buf, 65536, length $buf) {
        while (1) {
          my $nl = index $buf, "\n";
          if ($nl >= 0 && $nl <= $cap) {
            put(substr $buf, 0, $nl);
            substr($buf, 0, $nl + 1) = "";
            $more = 0;
          } elsif (length $buf > $cap) {
            my $cut = $cap;  # not inside a UTF-8 character: back off its continuation bytes
            $cut-- while $cut > $cap - 3 && (vec($buf, $cut, 8) & 0xC0) == 0x80;
            put(substr $buf, 0, $cut);
            substr($buf, 0, $cut) = "";
            $more = 1;
          } else {
            last;
          }
        }
      }
      put($buf) if length $buf;
    '
  }
else
  stamp() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do
      TZ=UTC printf "%($STAMP_FORMAT)T %s\n" -1 "$line"
    done
  }
fi

# The program: main.sh wins over main.py when both are there (it is the wrapper that starts main.py).
if [ -f "$SRC_DIR/main.sh" ]; then
  main=main.sh
  program=(bash main.sh)
elif [ -f "$SRC_DIR/main.py" ]; then
  main=main.py
  python=$(command -v python3 || command -v python || true)
  if [ -z "$python" ]; then
    log "error: no python3 or python on PATH ($PATH) in this image: it cannot run main.py"
    exit "$EXIT_SETUP_FAILED"
  fi
  program=("$python" main.py)
else
  log "error: no main.py or main.sh in $SRC_DIR: zip your files so main.py (or main.sh) is at the root of the zip, not inside a folder"
  if [ -d "$SRC_DIR" ]; then
    found=$(cd "$SRC_DIR" && find . -maxdepth 2 -name 'main.*' -print 2>/dev/null | head -n 5 | sed 's|^\./||' | paste -sd ' ' -)
    if [ -n "$found" ]; then
      log "found instead: $found"
    fi
  fi
  exit "$EXIT_NO_MAIN"
fi

# The working folder: the submission's files linked in, and data/ and submission/ as DrivenData's are.
scratch_root=${TMPDIR:-/tmp}
workdir=$scratch_root/work
if ! mkdir "$workdir" 2>/dev/null && ! workdir=$(mktemp -d "$scratch_root/work.XXXXXX"); then
  log "error: cannot create a working folder in $scratch_root: it must be writable (a tmpfs in the sandbox)"
  exit "$EXIT_SETUP_FAILED"
fi
declare -A contract=([data]=/code_execution/data [submission]=$SUBMISSION_DIR)
shopt -s nullglob dotglob
for entry in "$SRC_DIR"/*; do
  name=${entry##*/}
  if [ -n "${contract[$name]:-}" ]; then
    log "warning: your zip's $name is hidden in the working folder: $name/ there is ${contract[$name]} (rename yours; it stays at $entry)"
    continue
  fi
  if ! ln -s "$entry" "$workdir/$name"; then
    log "error: cannot link $entry into the working folder $workdir"
    exit "$EXIT_SETUP_FAILED"
  fi
done
shopt -u nullglob dotglob
for name in "${!contract[@]}"; do
  if ! ln -s "${contract[$name]}" "$workdir/$name"; then
    log "error: cannot link ${contract[$name]} into the working folder $workdir"
    exit "$EXIT_SETUP_FAILED"
  fi
done
# ../data from the working folder is the data folder as well, as it is from DrivenData's
# /code_execution/workdir (spacecraft-pose's main.sh passes DATA_DIR=../data). /tmp is empty at the start.
if [ "$workdir" = "$scratch_root/work" ] && ! ln -s /code_execution/data "$scratch_root/data"; then
  log "error: cannot link /code_execution/data as $scratch_root/data (../data from the working folder)"
  exit "$EXIT_SETUP_FAILED"
fi
cd "$workdir" || exit "$EXIT_SETUP_FAILED"

if [ "${PROCTOR_INTERACTIVE:-}" = 1 ]; then
  log "working folder $workdir: your files, data/ (= /code_execution/data, read-only), submission/ (= $SUBMISSION_DIR)"
  log "a run starts: ${program[*]}   (expected output: $SUBMISSION_DIR/$EXPECTED_OUTPUT); exit leaves the shell"
  if [ -t 0 ]; then
    exec bash -i
  fi
  exec bash # commands piped in (make interact-container < script), without prompts
fi

if ! pipes=$(mktemp -d "$scratch_root/.proctor.XXXXXX"); then
  log "error: cannot create a working folder in $scratch_root: it must be writable (a tmpfs in the sandbox)"
  exit "$EXIT_SETUP_FAILED"
fi
# Output lines are stamped when they arrive: let Python send them as they are printed.
export PYTHONUNBUFFERED=${PYTHONUNBUFFERED:-1}

# stdout and stderr each go through their own stamper, over named pipes, so they stay apart and the
# program's exit status is its own.
mkfifo "$pipes/stdout" "$pipes/stderr" || exit "$EXIT_SETUP_FAILED"
stamp <"$pipes/stdout" &
stdout_stamper=$!
stamp <"$pipes/stderr" >&2 &
stderr_stamper=$!

log "running $main from $SRC_DIR in $workdir (expected output: $SUBMISSION_DIR/$EXPECTED_OUTPUT)"
started=$SECONDS
# Files newer than this marker were written by the program (to say where, when the expected one is missing).
started_marker=$pipes/started
: >"$started_marker"

"${program[@]}" >"$pipes/stdout" 2>"$pipes/stderr" &
child=$!
forwarded=0
# shellcheck disable=SC2317 # called from the traps below
forward() {
  forwarded=1
  kill -s "$1" "$child" 2>/dev/null || true
}
trap 'forward TERM' TERM
trap 'forward TERM' INT
trap 'forward HUP' HUP

status=0
wait "$child" || status=$?
# A trap interrupts `wait`; wait again for the program's own status.
while [ "$forwarded" -eq 1 ]; do
  forwarded=0
  status=0
  wait "$child" || status=$?
done
trap - TERM INT HUP

# The stampers end when the program's end of the pipes closes; a background process it left behind may
# hold them open, so wait a few seconds at most, then stop them.
for _ in $(seq 50); do
  kill -0 "$stdout_stamper" 2>/dev/null || kill -0 "$stderr_stamper" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$stdout_stamper" 2>/dev/null || kill -0 "$stderr_stamper" 2>/dev/null; then
  log "warning: $main left background processes that still hold its output open; their output is not shown"
  kill "$stdout_stamper" "$stderr_stamper" 2>/dev/null
fi
wait "$stdout_stamper" "$stderr_stamper" 2>/dev/null
rm -f "$pipes/stdout" "$pipes/stderr"

elapsed=$((SECONDS - started))
if [ "$status" -ne 0 ]; then
  if [ "$status" -gt 128 ]; then
    signal=$(kill -l "$((status - 128))" 2>/dev/null || echo "?")
    log "error: $main was killed by signal $signal (exit code $status) after ${elapsed}s"
  else
    log "error: $main failed with exit code $status after ${elapsed}s"
  fi
  exit "$status"
fi

# Where the program wrote instead, when the expected output is missing: files of the expected name or
# extension it made under the scratch folder (the links to the submission's own files and to data/ and
# submission/ are not followed).
log_written_instead() {
  local extension=${EXPECTED_OUTPUT##*.} written
  if [ "$extension" = "$EXPECTED_OUTPUT" ]; then extension=$EXPECTED_OUTPUT; else extension="*.$extension"; fi
  written=$(find "$scratch_root" -mindepth 1 -maxdepth 4 -type f \( -name "$EXPECTED_OUTPUT" -o -name "$extension" \) \
    -newer "$started_marker" -print0 2>/dev/null | LC_ALL=C sort -z | head -z -n 5 | tr -c '[:print:]\0' '?' |
    tr '\0' ' ')
  if [ -n "$written" ]; then
    log "found instead: ${written% }"
  fi
}

# A format of one file per id names them with {id} (e.g. {id}.tif, the contract's ID_PLACEHOLDER): the
# program writes them into submission/ itself; nothing is copied, and any file there is output (proctor's
# format check names the wrong ones).
if [[ $EXPECTED_OUTPUT == *"{id}"* ]]; then
  if [ -z "$(find "$SUBMISSION_DIR" -type f -print -quit 2>/dev/null)" ]; then
    log "error: $main exited 0 after ${elapsed}s but wrote no file in $SUBMISSION_DIR: write one $EXPECTED_OUTPUT per id there (or in submission/ from the working folder)"
    log_written_instead
    exit "$EXIT_OUTPUT_MISSING"
  fi
  log "$main finished after ${elapsed}s and wrote its files in $SUBMISSION_DIR"
  exit 0
fi

# DrivenData's entrypoints copy ./submission.csv from beside main.py into submission/: do the same with the
# expected file when the program left it in the working folder only. The copy goes into the capped output
# folder like any write there, so it cannot pass the cap; a partial copy is removed, not scored.
target=$SUBMISSION_DIR/$EXPECTED_OUTPUT
if [ ! -e "$target" ] && [ ! -L "$target" ] && [ -f "$workdir/$EXPECTED_OUTPUT" ]; then
  if copy_error=$(cp --no-clobber -- "$workdir/$EXPECTED_OUTPUT" "$target" 2>&1 >/dev/null) && [ -f "$target" ]; then
    log "copied ./$EXPECTED_OUTPUT from the working folder to $target (as DrivenData's runtimes do)"
  else
    rm -f -- "$target" 2>/dev/null
    size=$(stat -L -c %s -- "$workdir/$EXPECTED_OUTPUT" 2>/dev/null || echo "?")
    log "error: $main wrote ./$EXPECTED_OUTPUT ($size bytes) in the working folder, and copying it to $target failed: ${copy_error:-unknown error}; the output folder is capped in size and file count (competition.yml's limits): write less"
    exit "$EXIT_OUTPUT_MISSING"
  fi
fi

if [ ! -f "$target" ]; then
  log "error: $main exited 0 after ${elapsed}s but wrote no $target: write your predictions there (or to submission/$EXPECTED_OUTPUT or ./$EXPECTED_OUTPUT from the working folder)"
  log_written_instead
  exit "$EXIT_OUTPUT_MISSING"
fi
log "$main finished after ${elapsed}s and wrote $SUBMISSION_DIR/$EXPECTED_OUTPUT"
exit 0
