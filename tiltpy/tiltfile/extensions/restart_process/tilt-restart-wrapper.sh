#!/bin/sh
# tiltpy's restart wrapper (POSIX sh: works with dash and busybox sh).
# Runs COMMAND, and restarts it whenever WATCH_FILE changes (a live update
# ends with `date > WATCH_FILE`). With --entr_flags containing z (the
# default, like Tilt's -rz), the wrapper exits when COMMAND exits on its own;
# without z (exit_policy='continue'), it waits for the next change instead.
#
# usage: tilt-restart-wrapper [--watch_file=FILE] [--entr_flags=FLAGS] [--poll=SECONDS] [--] COMMAND [ARGS...]
watch_file=/tmp/.restart-proc
exit_with_child=1
poll=${TILT_RESTART_POLL_SECONDS:-0.5}
while [ $# -gt 0 ]; do
  case "$1" in
    --watch_file=*) watch_file=${1#--watch_file=} ;;
    --entr_flags=*) case "${1#--entr_flags=}" in *z*) exit_with_child=1 ;; *) exit_with_child=0 ;; esac ;;
    --poll=*) poll=${1#--poll=} ;;
    --) shift; break ;;
    *) break ;;
  esac
  shift
done
if [ $# -eq 0 ]; then
  echo "tilt-restart-wrapper: requires a command to run (and rerun whenever $watch_file changes)" >&2
  exit 2
fi

# A fingerprint of the watched file that changes on every write.
stamp() {
  stat -c '%y %s %i' "$watch_file" 2>/dev/null || cksum "$watch_file" 2>/dev/null || echo none
}

nap() {
  sleep "$poll" 2>/dev/null || sleep 1
}

# Signal a child and everything it started (its own process group, when
# setsid gave it one).
signal_child() {
  kill "-$1" "-$2" 2>/dev/null || kill "-$1" "$2" 2>/dev/null
}

# Runs in the background: when the file changes, tell the main loop (USR1)
# and stop the child (TERM, then KILL after 10 s); the main loop starts it again.
watch_for_change() {
  trap 'exit 0' TERM
  last=$(stamp)
  while :; do
    nap
    now=$(stamp)
    if [ "$now" != "$last" ]; then
      kill -USR1 "$main_pid" 2>/dev/null
      signal_child TERM "$1"
      waited=0
      while kill -0 "$1" 2>/dev/null && [ "$waited" -lt 100 ]; do
        sleep 0.1 2>/dev/null || sleep 1
        waited=$((waited + 1))
      done
      kill -0 "$1" 2>/dev/null && signal_child KILL "$1"
      exit 0
    fi
  done
}

child=""
watcher=""
stopping=""
on_signal() {
  stopping=$1
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
  [ -n "$child" ] && signal_child "$1" "$child"
}
main_pid=$$
restart=""
# Every trap also notes that `wait` was interrupted: its status is then not the child's.
trap 'interrupted=1; restart=1' USR1
trap 'interrupted=1; on_signal TERM' TERM
trap 'interrupted=1; on_signal INT' INT
trap 'interrupted=1; on_signal HUP' HUP

exec 3<&0
if command -v setsid >/dev/null 2>&1; then use_setsid=1; else use_setsid=""; fi

while :; do
  restart=""
  if [ -n "$use_setsid" ]; then
    setsid "$@" <&3 3<&- &
  else
    "$@" <&3 3<&- &
  fi
  child=$!
  watch_for_change "$child" 3<&- &
  watcher=$!
  # A trapped signal interrupts `wait`: wait again until it reports how the child ended.
  while :; do
    interrupted=""
    status=0
    wait "$child" || status=$?
    [ -n "$interrupted" ] || break
  done
  if [ -n "$stopping" ]; then
    kill "$watcher" 2>/dev/null
    wait "$watcher" 2>/dev/null
    exit "$status"
  fi
  # After a restart request the watcher ends by itself; otherwise stop it.
  [ -n "$restart" ] || kill "$watcher" 2>/dev/null
  wait "$watcher" 2>/dev/null
  watcher=""
  if [ -z "$restart" ]; then
    if [ "$exit_with_child" = 1 ]; then
      exit "$status"
    fi
    # exit_policy='continue': wait for the next change, then run it again.
    last=$(stamp)
    while [ "$(stamp)" = "$last" ]; do
      [ -n "$stopping" ] && exit "$status"
      nap
    done
  fi
done
