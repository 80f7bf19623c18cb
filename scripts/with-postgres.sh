#!/bin/sh
# with-postgres.sh COMMAND [ARG...]: run COMMAND against a private, throw-away
# PostgreSQL server. Installs Debian's postgresql when no server binaries are
# found, initdb's a fresh data directory owned by a non-root user (the
# `postgres` system user when run as root), listens on a Unix socket in a
# private directory only (no TCP), trust auth on that socket, fsync on.
#
# COMMAND sees:
#   ACTOR_TEST_PG_URL      postgresql:///actor_test?host=SOCKETDIR&user=USER
#   ACTOR_TEST_PG_DATADIR  the data directory
#   ACTOR_TEST_PG_CTL      a command that runs pg_ctl as the server's owner
#                          (pg_ctl refuses to run as root), same arguments
#   ACTOR_TEST_PG_LOG      the server log file (pass to `pg_ctl start -l`)
#   ACTOR_TEST_PG_BINDIR   the server binaries
#   ACTOR_TEST_PG_PW_URL   a URL for role actor_pw, which must give a password
#   ACTOR_TEST_PG_PASSWORD its password
# The server is stopped and every directory removed on every exit path, also
# when COMMAND fails or the script is interrupted. Exits with COMMAND's status.
set -eu

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

log() { echo "with-postgres: $*" >&2; }

find_bindir() {
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root (or sudo) to run: $*"
        return 1
    fi
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ] || ! [ -e /usr/include/postgresql/libpq-fe.h ]; then
    log "installing postgresql and libpq-dev"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y --no-install-recommends postgresql libpq-dev >/dev/null; then
        as_root apt-get update >/dev/null
        as_root apt-get install -y --no-install-recommends postgresql libpq-dev >/dev/null
    fi
    bindir=$(find_bindir) || { log "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"; exit 1; }
fi

# The server runs as a non-root user.
if [ "$(id -u)" -eq 0 ]; then
    owner=postgres
    if ! id "$owner" >/dev/null 2>&1; then
        log "the postgres system user does not exist"
        exit 1
    fi
    if command -v runuser >/dev/null 2>&1; then
        run_owner() { runuser -u "$owner" -- "$@"; }
    else
        run_owner() {
            q=""
            for a in "$@"; do q="$q '$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'"; done
            su -s /bin/sh "$owner" -c "$q"
        }
    fi
else
    owner=$(id -un)
    run_owner() { "$@"; }
fi

base=$(mktemp -d "${TMPDIR:-/tmp}/actor-pg.XXXXXX")
datadir="$base/data"
sockdir="$base/sock"
logfile="$base/server.log"
started=0

cleanup() {
    status=$?
    trap - EXIT INT TERM HUP
    set +e
    if [ "$started" -eq 1 ] && [ -f "$datadir/postmaster.pid" ]; then
        (cd "$base" && run_owner "$bindir/pg_ctl" stop -D "$datadir" -m fast -w -t 30 >/dev/null 2>&1) ||
            (cd "$base" && run_owner "$bindir/pg_ctl" stop -D "$datadir" -m immediate -w -t 30 >/dev/null 2>&1)
    fi
    rm -rf "$base"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$sockdir"
: >"$logfile"
chmod 700 "$base" "$sockdir"
if [ "$(id -u)" -eq 0 ]; then
    chown -R "$owner" "$base"
fi

# A wrapper so that tests (possibly running as root) can stop and start the
# server with pg_ctl, which must run as the data directory's owner.
cat >"$base/pg_ctl" <<WRAP
#!/bin/sh
cd "$base" || exit 1
WRAP
if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null 2>&1; then
    echo "exec runuser -u $owner -- \"$bindir/pg_ctl\" \"\$@\"" >>"$base/pg_ctl"
elif [ "$(id -u)" -eq 0 ]; then
    cat >>"$base/pg_ctl" <<WRAP
q=""
for a in "\$@"; do q="\$q '\$(printf '%s' "\$a" | sed "s/'/'\\\\\\\\''/g")'"; done
exec su -s /bin/sh $owner -c "'$bindir/pg_ctl'\$q"
WRAP
else
    echo "exec \"$bindir/pg_ctl\" \"\$@\"" >>"$base/pg_ctl"
fi
chmod 755 "$base/pg_ctl"

(cd "$base" && run_owner "$bindir/initdb" -D "$datadir" -U "$owner" --auth-local=trust \
    --auth-host=reject -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1) || {
    cat "$base/initdb.log" >&2
    log "initdb failed"
    exit 1
}
# One role must give a password (scram), so that a wrong password can be
# tested; everyone else is trusted on the private socket.
{
    echo "local all actor_pw scram-sha-256"
    cat "$datadir/pg_hba.conf"
} >"$base/pg_hba.new"
cat "$base/pg_hba.new" >"$datadir/pg_hba.conf"
rm -f "$base/pg_hba.new"
cat >>"$datadir/postgresql.conf" <<CONF
# with-postgres.sh: a private server on a Unix socket only.
listen_addresses = ''
unix_socket_directories = '$sockdir'
unix_socket_permissions = 0700
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
logging_collector = off
CONF

started=1
(cd "$base" && run_owner "$bindir/pg_ctl" start -D "$datadir" -l "$logfile" -w -t 60 >/dev/null) || {
    cat "$logfile" >&2
    log "the server did not start"
    exit 1
}
ready=0
for _ in $(seq 1 60); do
    if "$bindir/pg_isready" -q -h "$sockdir" -U "$owner" -d postgres; then
        ready=1
        break
    fi
    sleep 0.5
done
if [ "$ready" -ne 1 ]; then
    cat "$logfile" >&2
    log "the server is not accepting connections"
    exit 1
fi
"$bindir/createdb" -h "$sockdir" -U "$owner" actor_test
pw="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
"$bindir/psql" -q -h "$sockdir" -U "$owner" -d actor_test -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET password_encryption = 'scram-sha-256';
CREATE ROLE actor_pw LOGIN PASSWORD '$pw';
GRANT ALL ON SCHEMA public TO actor_pw;
SQL

export ACTOR_TEST_PG_URL="postgresql:///actor_test?host=$sockdir&user=$owner"
export ACTOR_TEST_PG_DATADIR="$datadir"
export ACTOR_TEST_PG_CTL="$base/pg_ctl"
export ACTOR_TEST_PG_LOG="$logfile"
export ACTOR_TEST_PG_BINDIR="$bindir"
# A role that needs a password, and that password.
export ACTOR_TEST_PG_PW_URL="postgresql:///actor_test?host=$sockdir&user=actor_pw"
export ACTOR_TEST_PG_PASSWORD="$pw"
log "server ready at $ACTOR_TEST_PG_URL"

set +e
"$@"
status=$?
set -e
exit "$status"
