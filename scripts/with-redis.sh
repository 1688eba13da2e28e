#!/usr/bin/env bash
# Run a command with a private redis-server of its own: started here on a free loopback port, in a
# temporary directory, and stopped (directory removed) when the command ends, however it ends.
# A Redis that is already running - the one on 6379, or whatever $REDIS_URL points at (possibly an
# integrator's production database) - is never used: the tests and benchmarks flush their databases.
# `with-redis.sh --install-only` only makes sure redis-server is installed.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "(installing redis-server with apt-get)" >&2
    apt-get install -y -q redis-server >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null; }
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-server is needed (a private one is started for each run; no running Redis is used)." >&2
    echo "Install it:  sudo apt-get install redis-server   (Debian/Ubuntu)   or   brew install redis   (macOS)" >&2
    exit 1
  fi
fi
[ "${1:-}" = "--install-only" ] && exit 0

answers() { (exec 3<>/dev/tcp/127.0.0.1/"$1" && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
in_use() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/connector-redis-XXXXXX")
trap 'kill "$(cat "$dir/redis.pid" 2>/dev/null)" 2>/dev/null; for _ in $(seq 50); do [ -e "$dir/redis.pid" ] || break; sleep 0.1; done; rm -rf "$dir"' EXIT
started=""
for _ in $(seq 20); do
  port=$((20000 + RANDOM % 30000))
  in_use "$port" && continue
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null || continue
  for _ in $(seq 50); do answers "$port" && { started=1; break; }; sleep 0.1; done
  [ -n "$started" ] && break
  kill "$(cat "$dir/redis.pid" 2>/dev/null)" 2>/dev/null || true
done
[ -n "$started" ] || { echo "could not start a private redis-server (log: $dir/redis.log)" >&2; cat "$dir/redis.log" >&2 || true; exit 1; }
echo "(started a private redis-server on 127.0.0.1:$port)" >&2
export REDIS_URL="redis://127.0.0.1:$port/13" TEST_REDIS_URL="redis://127.0.0.1:$port/12"
unset STACK_REDIS_URL BENCH_REDIS_URL OPERATOR_TEST_REDIS_URL  # derived from the two above
"$@"
