#!/usr/bin/env bash
# shellcheck shell=bash
# A private PostgreSQL for the relay's tests and benchmarks: Debian's own server binaries, run as an
# unprivileged user, with everything (data, socket, log) in one temporary directory. Durability
# settings stay at PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes all on), so
# what the relay's tests prove about commits holds for a real deployment.
#
# Run it:
#   dir=$(mktemp -d)
#   url=$(bash scripts/postgres.sh start "$dir")   # stdout: the URL alone; progress on stderr
#   psql "$url" -c 'select 1'
#   bash scripts/postgres.sh url "$dir"            # the URL again
#   bash scripts/postgres.sh status "$dir"         # exit 0 when running
#   bash scripts/postgres.sh stop "$dir"           # pg_ctl stop -m fast; nothing to do is not an error
#   rm -rf "$dir"
#
# or source it (scripts/test.sh does) and call postgres_start DIR / postgres_stop DIR /
# postgres_url DIR / postgres_status DIR; postgres_start also exports ZENTRO_POSTGRES_URL.
# Starting a running server again, or stopping a stopped one, does nothing; a stopped server
# starts again with its data.
#
# By default the server listens on no TCP port at all: only on a Unix socket in DIR (mode 0700),
# with trust authentication, so only its owner (and root) can connect. The URL names the socket
# directory: postgres:///zentro?host=DIR&user=zentro (libpq, psql and sqlx all read it; the form
# postgres://zentro@/zentro?host=DIR is refused by sqlx's URL parser: "empty host").
# ZENTRO_POSTGRES_TCP=1 listens on 127.0.0.1 instead, on a free port, with a random password
# (scram-sha-256) in the URL, as a relay would reach a database server.
#
# Settings (environment):
#   ZENTRO_POSTGRES_BIN              folder of initdb, pg_ctl, postgres, psql (default: the newest
#                                    /usr/lib/postgresql/*/bin, where Debian puts them, then PATH)
#   ZENTRO_POSTGRES_USER / _DB       role and database created for the relay (default zentro/zentro;
#                                    the role may create databases, for per-test databases)
#   ZENTRO_POSTGRES_TCP              1: 127.0.0.1 on a free port with a password, instead of a socket
#   ZENTRO_POSTGRES_MAX_CONNECTIONS  default 300 (parallel tests each open a pool)
#   ZENTRO_POSTGRES_OS_USER          when run as root (initdb and postgres refuse root): the account
#                                    the server runs as (default postgres if it exists, else nobody)

# ----- helpers (prefixed _pg_; nothing here changes the caller's shell options) -----

_pg_say() { printf 'postgres.sh: %s\n' "$*" >&2; }
_pg_fail() {
  printf 'postgres.sh: error: %s\n' "$*" >&2
  return 1
}

# The folder holding initdb, pg_ctl, postgres and psql, or a message saying what to install.
postgres_bin_dir() {
  local candidates=() dir tool ok
  if [ -n "${ZENTRO_POSTGRES_BIN:-}" ]; then
    for tool in initdb pg_ctl postgres psql; do
      [ -x "$ZENTRO_POSTGRES_BIN/$tool" ] || {
        _pg_fail "ZENTRO_POSTGRES_BIN=$ZENTRO_POSTGRES_BIN has no $tool (it must hold initdb, pg_ctl, postgres and psql)"
        return 1
      }
    done
    printf '%s\n' "$ZENTRO_POSTGRES_BIN"
    return 0
  fi
  # Debian and Ubuntu: /usr/lib/postgresql/<major>/bin, not on PATH. Newest major first.
  while IFS= read -r dir; do candidates+=("$dir"); done < <(
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -V -r || true)
  # Elsewhere (Fedora, Arch, Homebrew, a source build): where initdb is on PATH.
  if command -v initdb >/dev/null 2>&1; then
    candidates+=("$(dirname "$(readlink -f "$(command -v initdb)")")")
  fi
  for dir in "${candidates[@]}"; do
    ok=1
    for tool in initdb pg_ctl postgres psql; do
      [ -x "$dir/$tool" ] || ok=0
    done
    if [ "$ok" -eq 1 ]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done
  _pg_fail "PostgreSQL's server is not installed (looked for initdb, pg_ctl, postgres and psql in /usr/lib/postgresql/*/bin and on PATH).
  Debian 12 / Ubuntu: sudo apt-get install postgresql   (the server lands in /usr/lib/postgresql/<major>/bin)
  elsewhere: install your distribution's PostgreSQL server package, or set ZENTRO_POSTGRES_BIN to the folder holding initdb"
}

# The account the server runs as: ourselves, or an unprivileged one when we are root.
_pg_os_user() {
  if [ "$(id -u)" -ne 0 ]; then
    id -un
  elif [ -n "${ZENTRO_POSTGRES_OS_USER:-}" ]; then
    printf '%s\n' "$ZENTRO_POSTGRES_OS_USER"
  elif getent passwd postgres >/dev/null 2>&1; then
    echo postgres
  else
    echo nobody
  fi
}

# Runs a command as the server's account, from DIR (root's working directory may be closed to it).
_pg_as_server() {
  local dir="$1"
  shift
  if [ "$(id -u)" -ne 0 ]; then
    (cd "$dir" && "$@")
    return
  fi
  local user
  user="$(_pg_os_user)"
  if [ "$user" = root ] || ! getent passwd "$user" >/dev/null 2>&1; then
    _pg_fail "running as root: PostgreSQL refuses to run as root and there is no account '$user' to run it as; set ZENTRO_POSTGRES_OS_USER to an unprivileged account"
    return 1
  fi
  if command -v runuser >/dev/null 2>&1; then
    (cd "$dir" && runuser -u "$user" -- "$@")
  elif command -v setpriv >/dev/null 2>&1; then
    (cd "$dir" && setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@")
  else
    _pg_fail "running as root: neither runuser nor setpriv (util-linux) is installed to drop to '$user'"
  fi
}

_pg_check_dir_arg() {
  [ -n "${1:-}" ] || {
    _pg_fail "usage: postgres.sh start|stop|url|status DIR (DIR: a private folder, e.g. \$(mktemp -d))"
    return 1
  }
}

_pg_absolute() { (cd "$1" && pwd -P); }

_pg_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || {
    _pg_fail "python3 is needed to pick a free port (ZENTRO_POSTGRES_TCP=1)"
    return 1
  }
}

# Whether the server of DIR accepts connections (as the bootstrap superuser, over the socket).
_pg_accepts() {
  "$1/psql" --no-psqlrc --quiet --tuples-only "host=$2 port=$3 user=postgres dbname=postgres connect_timeout=2" \
    -c 'SELECT 1' >/dev/null 2>&1
}

# ----- the interface -----

# postgres_status DIR: exit 0 when the server of DIR runs.
postgres_status() {
  _pg_check_dir_arg "${1:-}" || return 1
  local dir="$1" bin
  [ -f "$dir/data/PG_VERSION" ] || return 1
  bin="$(postgres_bin_dir)" || return 1
  dir="$(_pg_absolute "$dir")" || return 1
  _pg_as_server "$dir" "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

# postgres_url DIR: the URL of the server started in DIR.
postgres_url() {
  _pg_check_dir_arg "${1:-}" || return 1
  [ -f "$1/url" ] || {
    _pg_fail "no PostgreSQL was started in $1 (run: postgres.sh start $1)"
    return 1
  }
  cat "$1/url"
}

# postgres_start DIR: initialises (once) and starts a server in DIR, creates the role and the
# database, prints the URL and exports it as ZENTRO_POSTGRES_URL.
postgres_start() {
  _pg_check_dir_arg "${1:-}" || return 1
  local dir="$1" bin user db os_user url port="" password=""
  bin="$(postgres_bin_dir)" || return 1
  user="${ZENTRO_POSTGRES_USER:-zentro}"
  db="${ZENTRO_POSTGRES_DB:-zentro}"
  mkdir -p "$dir" || return 1
  dir="$(_pg_absolute "$dir")" || return 1
  os_user="$(_pg_os_user)"
  # The socket's path must fit in sun_path (107 bytes).
  if [ "${#dir}" -gt 90 ]; then
    _pg_fail "$dir is too long for a Unix socket path; use a shorter folder, e.g. \$(mktemp -d)"
    return 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    chown "$os_user:" "$dir" || return 1
  fi
  chmod 700 "$dir" || return 1
  if ! _pg_as_server "$dir" test -w "$dir" 2>/dev/null; then
    _pg_fail "the account '$os_user' the server runs as cannot write $dir (a parent folder is closed to it); use a folder under /tmp, e.g. \$(mktemp -d)"
    return 1
  fi

  if [ ! -f "$dir/data/PG_VERSION" ]; then
    _pg_say "initialising a PostgreSQL $("$bin/postgres" --version | awk '{print $3}') cluster in $dir/data (server runs as $os_user)"
    # Local connections need no password: the socket's folder is open to its owner alone. TCP
    # connections need the role's password.
    _pg_as_server "$dir" "$bin/initdb" --pgdata="$dir/data" --username=postgres \
      --encoding=UTF8 --locale=C --auth-local=trust --auth-host=scram-sha-256 \
      >"$dir/initdb.log" 2>&1 || {
      tail -n 20 "$dir/initdb.log" >&2
      _pg_fail "initdb failed; its output: $dir/initdb.log"
      return 1
    }
    if [ "${ZENTRO_POSTGRES_TCP:-0}" = 1 ]; then
      port="$(_pg_free_port)" || return 1
      password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
      printf '%s\n' "$password" >"$dir/password"
      chmod 600 "$dir/password"
    else
      port=5432 # only names the socket file (.s.PGSQL.5432) in DIR: no TCP port is opened
    fi
    # Appended settings win over initdb's. Durability (fsync, synchronous_commit,
    # full_page_writes, wal_sync_method) is left at the defaults on purpose.
    {
      echo "# scripts/postgres.sh"
      if [ "${ZENTRO_POSTGRES_TCP:-0}" = 1 ]; then
        echo "listen_addresses = '127.0.0.1'"
      else
        echo "listen_addresses = ''"
      fi
      echo "port = $port"
      echo "unix_socket_directories = '$dir'"
      echo "unix_socket_permissions = 0700"
      echo "max_connections = ${ZENTRO_POSTGRES_MAX_CONNECTIONS:-300}"
      echo "log_min_messages = warning"
      echo "log_line_prefix = '%m [%p] %q%u@%d '"
    } | _pg_as_server "$dir" tee -a "$dir/data/postgresql.conf" >/dev/null || return 1
  fi
  port="$(sed -nE 's/^port = ([0-9]+)$/\1/p' "$dir/data/postgresql.conf" | tail -n1)"

  # Running means accepting connections: a server still starting (or recovering) is waited for,
  # and one just killed (its process not yet reaped) is waited out, then started again.
  local waited=0
  while postgres_status "$dir" && ! _pg_accepts "$bin" "$dir" "$port"; do
    waited=$((waited + 1))
    if [ "$waited" -ge 600 ]; then
      _pg_fail "PostgreSQL in $dir runs but has not accepted connections for a minute; its log: $dir/postgres.log"
      return 1
    fi
    sleep 0.1
  done
  if postgres_status "$dir"; then
    _pg_say "already running in $dir"
  else
    _pg_say "starting PostgreSQL in $dir"
    # A server killed with -9 leaves postmaster.pid behind; pg_ctl and the server check that its
    # process is gone and start anyway.
    _pg_as_server "$dir" "$bin/pg_ctl" start --pgdata="$dir/data" --log="$dir/postgres.log" \
      --wait --timeout=60 --silent || {
      tail -n 20 "$dir/postgres.log" >&2 2>/dev/null || true
      _pg_fail "PostgreSQL did not start; its log: $dir/postgres.log"
      return 1
    }
  fi

  # The relay's role and database (idempotent), as the bootstrap superuser over the socket.
  [ -f "$dir/password" ] && password="$(cat "$dir/password")"
  "$bin/psql" --no-psqlrc --quiet --set=ON_ERROR_STOP=1 \
    "host=$dir port=$port user=postgres dbname=postgres" \
    --set=role="$user" --set=db="$db" --set=password="$password" >/dev/null <<'SQL' || {
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'password') WHERE :'password' <> '' \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
    _pg_fail "creating the role $user and the database $db failed (log: $dir/postgres.log)"
    return 1
  }

  if [ -n "$password" ]; then
    url="postgres://$user:$password@127.0.0.1:$port/$db"
  else
    url="postgres:///$db?host=$dir&user=$user"
  fi
  (umask 077 && printf '%s\n' "$url" >"$dir/url") || return 1
  export ZENTRO_POSTGRES_URL="$url"
  printf '%s\n' "$url"
}

# postgres_stop DIR: stops the server of DIR (fast: open sessions are rolled back, then a
# checkpoint); a server that does not run is not an error.
postgres_stop() {
  _pg_check_dir_arg "${1:-}" || return 1
  local dir="$1" bin
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    _pg_say "nothing to stop in $dir"
    return 0
  fi
  dir="$(_pg_absolute "$dir")" || return 1
  if ! postgres_status "$dir"; then
    _pg_say "not running in $dir"
    return 0
  fi
  bin="$(postgres_bin_dir)" || return 1
  _pg_as_server "$dir" "$bin/pg_ctl" stop --pgdata="$dir/data" --mode=fast --wait --timeout=60 --silent || {
    _pg_fail "PostgreSQL in $dir did not stop; its log: $dir/postgres.log"
    return 1
  }
  _pg_say "stopped PostgreSQL in $dir"
}

# ----- run as a command -----

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start) postgres_start "${2:-}" ;;
    stop) postgres_stop "${2:-}" ;;
    url) postgres_url "${2:-}" ;;
    status)
      if postgres_status "${2:-}"; then
        echo running
      else
        echo "not running"
        exit 3
      fi
      ;;
    *)
      echo "usage: bash scripts/postgres.sh start|stop|url|status DIR" >&2
      exit 2
      ;;
  esac
fi
