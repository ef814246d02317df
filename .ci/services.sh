#!/usr/bin/env bash
# Starts the services the test suite talks to (PostgreSQL, Redis, NATS with
# JetStream) when they are not already running, and fails loudly if one cannot
# be started. Safe to run repeatedly.
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_up() { # name port
  for _ in $(seq 1 60); do up "$2" && return 0; sleep 0.5; done
  echo "FATAL: $1 did not come up on 127.0.0.1:$2" >&2
  return 1
}

start() { # name port command...
  local name=$1 port=$2; shift 2
  if up "$port"; then echo "services: $name already up on :$port"; return 0; fi
  echo "services: starting $name"
  if ! "$@" >/tmp/ci-$name.log 2>&1; then
    echo "FATAL: could not start $name: $(tail -n 5 /tmp/ci-$name.log)" >&2
    return 1
  fi
  wait_up "$name" "$port" && echo "services: $name up on :$port"
}

status=0
start postgresql 5432 sh -c 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start' || status=1
start redis 6379 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
  --dir /var/lib/redis --logfile /var/log/redis/ci.log || status=1
start nats 4222 start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
  -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || status=1
exit $status
