#!/usr/bin/env bash
# System packages the benchmark needs: wrk, the PostgreSQL server binaries with
# pg_stat_statements, Python's venv module, and a Go toolchain new enough for apps/gin.
# With --browser (what `make test` asks for), also a headless Chromium: the tests open the
# HTML report in it. `make bench-db` does not need one. With --proxy (`make test`, the
# lessons, and the first --db-latency or --fault, which asks for it), toxiproxy is built once
# from the Go module proxy into .dbbench/bin: about 45 s of compiling on two cores, which
# `make bench-db` on loopback does not wait for. With --open-loop (`make test` and
# `make latency`), also oha, the constant-rate load generator, built once with cargo. With
# --ssh (`make test`, and every host of `dbbench cluster`), OpenSSH's server and client: the
# cluster commands reach their hosts through Ansible over SSH. With --pooler (`make test`, and the
# first --pooler pgbouncer, which asks for it), PgBouncer: Debian's package, the transaction pooler
# managed services put before PostgreSQL.
# As root, whatever is missing is installed through apt; otherwise one message names the
# exact command. A second run finds everything and returns at once.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
state=${DBBENCH_HOME:-$here/.dbbench}
go_needed=$(awk '$1 == "go" { print $2; exit }' "$here/apps/gin/go.mod")

# A build directory of toxiproxy's or oha's goes with the script, even when it is stopped
# mid-build (bash runs the EXIT trap on SIGINT and SIGTERM too).
build=""
trap 'if [ -n "$build" ]; then rm -rf "$build"; fi' EXIT

missing=()
have() { command -v "$1" >/dev/null 2>&1; }

pg_bin_dir() {
  if [ -n "${DBBENCH_PG_BIN:-}" ]; then echo "$DBBENCH_PG_BIN"; return; fi
  if have initdb && have pg_ctl; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

pg_has_stat_statements() {
  local bindir sharedir
  bindir=$(pg_bin_dir)
  [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] && [ -x "$bindir/postgres" ] || return 1
  if [ -x "$bindir/pg_config" ]; then
    sharedir=$("$bindir/pg_config" --sharedir)
  else
    sharedir=/usr/share/postgresql/$(basename "$(dirname "$bindir")")
  fi
  [ -f "$sharedir/extension/pg_stat_statements.control" ]
}

# version_ge A B: is Go version A at least B (both like 1.25 or 1.25.3)?
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

go_version_of() { "$1" env GOVERSION 2>/dev/null | sed 's/^go//'; }

usable_go() {
  local candidate
  for candidate in "${DBBENCH_GO:-}" "$state/toolchain/bin/go" "$(command -v go || true)" /usr/local/go/bin/go; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    if version_ge "$(GOTOOLCHAIN=local go_version_of "$candidate")" "$go_needed"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

have wrk || missing+=(wrk)
pg_has_stat_statements || missing+=(postgresql)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
have runuser || missing+=(util-linux)
usable_go >/dev/null || have go || missing+=(golang-go)
want_browser=no want_open_loop=no want_ssh=no want_proxy=no want_pooler=no want_cost=no
for flag in "$@"; do
  case "$flag" in
    --browser) want_browser=yes ;;
    --open-loop) want_open_loop=yes ;;
    --ssh) want_ssh=yes ;;
    --proxy) want_proxy=yes ;;
    --pooler) want_pooler=yes ;;
    --cost) want_cost=yes ;;
    *) echo "dbbench: bootstrap.sh: unknown option $flag (known: --browser, --cost, --open-loop, --pooler, --proxy, --ssh)" >&2; exit 2 ;;
  esac
done
if [ "$want_browser" = yes ]; then
  have chromium || have chromium-browser || missing+=(chromium)
fi
if [ "$want_pooler" = yes ]; then
  have pgbouncer || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
fi
if [ "$want_cost" = yes ]; then
  { have valgrind && have callgrind_control; } || missing+=(valgrind)
fi
if [ "$want_ssh" = yes ]; then
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  have ssh || missing+=(openssh-client)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "dbbench: missing system packages: ${missing[*]}" >&2
    echo "dbbench: install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "dbbench: installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A Go older than apps/gin/go.mod asks for: fetch that toolchain through the Go module
# proxy (what GOTOOLCHAIN does in Go 1.21+, done by hand so that older Go works too).
if ! usable_go >/dev/null; then
  old_go=$(command -v go || echo /usr/local/go/bin/go)
  arch=$(uname -m); case "$arch" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
  module="golang.org/toolchain@v0.0.1-go${go_needed}.linux-${arch}"
  echo "dbbench: Go $(GOTOOLCHAIN=local go_version_of "$old_go") is older than ${go_needed}; fetching go${go_needed}" >&2
  mkdir -p "$state"
  if dir=$(cd "$state" && GOFLAGS=-modcacherw GOTOOLCHAIN=local "$old_go" mod download -json "$module" \
           | awk -F'"' '$2 == "Dir" { print $4 }') && [ -f "$dir/bin/go" ]; then
    # Module zips keep no file modes: make the toolchain's programs executable again.
    chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/*
    rm -rf "$state/toolchain"
    ln -s "$dir" "$state/toolchain"
  else
    echo "dbbench: could not fetch go${go_needed}: the Gin cells will be listed as unavailable" >&2
  fi
fi

# toxiproxy, Shopify's TCP proxy for latency and faults between the cells and PostgreSQL
# (--db-latency, --fault), only when asked (--proxy). Built once with the Go toolchain above; the
# pinned version is recorded beside the binary, and a different pin builds again. Without it the
# rest of the benchmark still runs.
toxiproxy_version=v2.12.0
toxiproxy_bin="$state/bin/toxiproxy-server"
if [ "$want_proxy" = yes ] && { [ "$(cat "$toxiproxy_bin.version" 2>/dev/null)" != "$toxiproxy_version" ] || [ ! -x "$toxiproxy_bin" ]; }; then
  if go_bin=$(usable_go); then
    echo "dbbench: building toxiproxy $toxiproxy_version (once)" >&2
    mkdir -p "$state/bin"
    build=$(mktemp -d)
    if (cd "$build" && GOBIN="$build" GOFLAGS=-modcacherw GOTOOLCHAIN=local \
          "$go_bin" install "github.com/Shopify/toxiproxy/v2/cmd/server@$toxiproxy_version") >&2; then
      mv "$build/server" "$toxiproxy_bin"
      echo "$toxiproxy_version" > "$toxiproxy_bin.version"
    else
      echo "dbbench: could not build toxiproxy: --db-latency will be unavailable" >&2
    fi
    rm -rf "$build"
  else
    echo "dbbench: no usable Go: toxiproxy (--db-latency) is not built" >&2
  fi
fi

# oha (the constant-rate load generator behind `run --rate` and `latency`), pinned and built once
# from the crate registry with cargo, only when asked (--open-loop): the build takes about six
# minutes on two cores, and `make bench-db` does not need it. oha 1.16 needs Rust 1.88 or newer;
# Debian's cargo is older, so a missing or old cargo gets a message instead of a package.
oha_version=1.16.0
oha_bin="$state/bin/oha"
if [ "$want_open_loop" = yes ] && { [ "$(cat "$oha_bin.version" 2>/dev/null)" != "$oha_version" ] || [ ! -x "$oha_bin" ]; }; then
  cargo_bin=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
  if [ -x "$cargo_bin" ]; then
    echo "dbbench: building oha $oha_version with cargo (once, about 6 minutes)" >&2
    mkdir -p "$state/bin"
    build=$(mktemp -d)
    if "$cargo_bin" install oha --locked --quiet --version "$oha_version" --root "$build" >&2; then
      mv "$build/bin/oha" "$oha_bin"
      echo "$oha_version" > "$oha_bin.version"
    else
      echo "dbbench: could not build oha $oha_version (it needs Rust 1.88+): run --rate and latency will be unavailable" >&2
    fi
    rm -rf "$build"
  else
    echo "dbbench: no cargo: oha (run --rate, latency) is not built; install Rust 1.88+ and run make latency again" >&2
  fi
fi
