# Sourced by every file in bin/: runs the command named like that file from
# packages/cli/dist/commands, compiling the kit's TypeScript first when a
# source is newer than the last compile. POSIX sh, so it can say what is
# missing before Node or the dependencies are there.
self=$(readlink -f -- "$0")
root=$(dirname -- "$(dirname -- "$self")")
command=$(basename -- "$self")
node=${NODE:-node}

fail() {
  echo "✗ $1" >&2
  exit 1
}

command -v "$node" >/dev/null 2>&1 || fail "node is not on PATH: install Node.js 20.10 or later"
[ -d "$root/node_modules/pm2" ] || fail "the kit's dependencies are not installed: run 'pnpm install' in $root"

stamp="$root/packages/cli/dist/.compiled"
stale() {
  [ ! -f "$stamp" ] || [ ! -f "$root/packages/cli/dist/commands/$command.js" ] ||
    [ -n "$(find "$root/packages" "$root/tsconfig.json" -name node_modules -prune -o -name dist -prune -o \
      \( -name '*.ts' -o -name 'tsconfig.json' \) -newer "$stamp" -print 2>/dev/null | head -n 1)" ]
}
if stale; then
  # One compile at a time when several commands start at once.
  exec 9>"$root/node_modules/.kit-compile.lock"
  command -v flock >/dev/null 2>&1 && flock 9
  if stale; then
    [ -f "$root/node_modules/typescript/bin/tsc" ] || fail "the kit needs compiling but TypeScript is not installed: run 'pnpm install' in $root"
    echo "▸ compiling the kit (tsc -b)" >&2
    "$node" "$root/node_modules/typescript/bin/tsc" -b "$root/tsconfig.json" || fail "the kit's TypeScript does not compile (see above)"
    touch "$stamp"
  fi
  exec 9>&-
fi

exec "$node" --enable-source-maps "$root/packages/cli/dist/commands/$command.js" "$@"
