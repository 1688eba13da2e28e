#!/usr/bin/env bash
# Run a command with a Redis available: the one on 127.0.0.1:6379 if it answers, else a private
# redis-server started here (and stopped afterwards), else say exactly what to install.
set -euo pipefail
port=6379
answers() { (exec 3<>/dev/tcp/127.0.0.1/"$1" && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
if answers "$port"; then
  export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/13}" TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/12}"
  [ -z "${STACK_REDIS_URL:-}" ] || export STACK_REDIS_URL
  exec "$@"
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "No Redis on 127.0.0.1:6379 and no redis-server to start one." >&2
  echo "Install it:  sudo apt-get install redis-server   (Debian/Ubuntu)   or   brew install redis   (macOS)" >&2
  exit 1
fi
port=6399
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
trap 'kill "$(cat "$dir/redis.pid" 2>/dev/null)" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do answers "$port" && break; sleep 0.1; done
echo "(started a private redis-server on 127.0.0.1:$port)" >&2
export REDIS_URL="redis://127.0.0.1:$port/13" TEST_REDIS_URL="redis://127.0.0.1:$port/12"
"$@"
