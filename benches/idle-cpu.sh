#!/bin/bash
# CPU of an idle glint: its own Xvfb and PulseAudio, no page connected. Starts glint (GLINT_BIN,
# default target/release/glint) with a fresh HOME on a free loopback port, waits 5 s, then
# prints the CPU each process used (glint with all its threads; its children, among them its
# clipboard worker, as NAME-child) over IDLE_SECONDS (default 10) in % of one core (utime+stime
# from /proc), as JSON and as a table, and the capture rate from /api/stats.
set -euo pipefail
bin=${GLINT_BIN:-target/release/glint}
secs=${IDLE_SECONDS:-10}
home=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOME=$home "$bin" --listen "127.0.0.1:$port" >"$home/glint.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$home"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
sleep 5
ticks() { # name and utime+stime of glint (all threads) and each child
  echo "glint $(awk '{print $14+$15}' /proc/$pid/stat)"
  for c in $(pgrep -P $pid); do echo "$(cat /proc/$c/comm)-child $(awk '{print $14+$15}' /proc/$c/stat)"; done
}
a=$(ticks); sleep "$secs"; b=$(ticks)
hz=$(getconf CLK_TCK)
fps=$(curl -s "http://127.0.0.1:$port/api/stats" | python3 -c 'import sys,json; print(round(json.load(sys.stdin)["rates"]["captured_fps"],1))')
paste <(echo "$a") <(echo "$b") | awk -v s="$secs" -v hz="$hz" -v fps="$fps" '
  { pct[$1] = ($4 - $2) * 100 / hz / s; names[NR] = $1 }
  END {
    printf "{\"captured_fps\":%s", fps
    for (i = 1; i <= NR; i++) printf ",\"%s_pct\":%.1f", names[i], pct[names[i]]
    print "}"
    print "| process | % of a core |"; print "|---|---|"
    for (i = 1; i <= NR; i++) printf "| %s | %.1f |\n", names[i], pct[names[i]]
    printf "| (capture rate) | %s fps |\n", fps
  }'
