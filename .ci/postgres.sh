#!/usr/bin/env bash
# Throw-away PostgreSQL for the store's tests.
#
#   eval "$(bash .ci/postgres.sh start)"   # or: bash .ci/postgres.sh start; . "$DIR/env"
#   go test -race ./internal/store/...
#   bash .ci/postgres.sh stop
#
# start installs PostgreSQL from Debian's packages if it is missing, creates a
# cluster in a temporary directory (owned by the postgres user: the server
# refuses to run as root), listening on 127.0.0.1 only with trust auth, and
# creates the database cryptopay_test. It prints an export line for
# CRYPTOPAY_TEST_DATABASE_URL on stdout (everything else goes to stderr) and
# writes the same line to "$DIR/env". Running start twice reuses the cluster.
# stop shuts it down and removes the directory; it is a no-op when nothing
# runs.
#
# Settings: CRYPTOPAY_PG_DIR (default ${TMPDIR:-/tmp}/cryptopay-pg),
# CRYPTOPAY_PG_PORT (default 55432; the next free port is used if taken).
set -euo pipefail

DIR=${CRYPTOPAY_PG_DIR:-${TMPDIR:-/tmp}/cryptopay-pg}
PORT=${CRYPTOPAY_PG_PORT:-55432}
DB=cryptopay_test

log() { echo "postgres.sh: $*" >&2; }

bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# as_pg runs a command as the postgres user when we are root.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install_postgres() {
	if bindir >/dev/null; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		log "PostgreSQL is not installed and we are not root: apt-get install -y postgresql"
		exit 1
	fi
	log "installing PostgreSQL from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	# The package may create (and start) its own cluster on port 5432; ours
	# is separate and is the only one the tests use.
	apt-get install -y -qq postgresql >&2
	bindir >/dev/null || { log "no initdb after installing postgresql"; exit 1; }
}

print_env() {
	local line
	line=$(cat "$DIR/env")
	echo "$line"
	log "${line#export } (also in $DIR/env)"
}

start() {
	install_postgres
	local bin
	bin=$(bindir)
	if [ -f "$DIR/env" ] && [ -d "$DIR/data" ] && as_pg "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
		print_env
		return 0
	fi
	if [ -d "$DIR" ]; then
		log "removing the stale cluster in $DIR"
		stop
	fi
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
	fi
	local port=$PORT
	while port_busy "$port"; do
		port=$((port + 1))
		if [ "$port" -gt $((PORT + 50)) ]; then
			log "no free port in $PORT..$((PORT + 50))"
			exit 1
		fi
	done
	mkdir -p "$DIR"
	chmod 0700 "$DIR"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$DIR"
	fi
	as_pg "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$DIR/initdb.log" 2>&1 ||
		{ cat "$DIR/initdb.log" >&2; exit 1; }
	cat >>"$DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR'
max_connections = 300
# Durability stays on: the benchmarks measure real commits.
fsync = on
synchronous_commit = on
EOF
	as_pg "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >&2 ||
		{ cat "$DIR/server.log" >&2; exit 1; }
	as_pg "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $DB" >&2
	echo "export CRYPTOPAY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/$DB?sslmode=disable" >"$DIR/env"
	chmod 0644 "$DIR/env"
	print_env
}

stop() {
	if [ ! -d "$DIR" ]; then
		return 0
	fi
	local bin
	if [ -d "$DIR/data" ] && bin=$(bindir); then
		as_pg "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 2>/dev/null || true
	fi
	rm -rf "$DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
