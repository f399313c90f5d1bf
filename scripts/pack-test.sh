#!/usr/bin/env bash
# Proves that every package installs and works outside the workspace, from its tarball and the npm registry only:
# pack every package (pnpm rewrites workspace ranges to versions), install the tarballs with npm in a fresh project
# in a temporary folder, type-check a plugin and a client there against the installed types, serve the README's
# example plugin and call it over its socket with the installed testkit, then run the installed `dpk` (bundle the
# plugin with `dpk build`, serve the bundle and probe it). Then the same with pnpm.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/dpk-pack-test.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "pack-test: [${SECONDS}s] $*"; }

step "build and pack"
# Incremental: on a clean clone (CI) dist/ holds nothing stale; elsewhere `rm -rf packages/*/dist` first.
pnpm build >/dev/null
# Only the published packages: not the private docs/ package (the API reference build).
pnpm -r --filter "./packages/*" pack --pack-destination "$work/tarballs" >/dev/null
ls "$work/tarballs"

# A fresh project depending on every tarball, plus what a plugin author adds from the registry. With pnpm, the
# tarballs also stand in for the packages' dependencies on each other (`overrides`), which it would otherwise look
# up in the registry, where they are not published yet; npm takes them from the project's own dependencies.
make_app() {
  local dir=$1 manager=$2
  mkdir -p "$dir"
  cp examples/hello-volume.ts scripts/pack-test/check.ts scripts/pack-test/tsconfig.json "$dir/"
  node -e '
    const fs = require("node:fs"), path = require("node:path")
    const [dir, tarballs, manager] = process.argv.slice(1)
    const deps = {}
    for (const f of fs.readdirSync(tarballs)) {
      const name = "@docker-plugin-kit/" + f.replace(/^docker-plugin-kit-/, "").replace(/-\d+\.\d+\.\d+\.tgz$/, "")
      deps[name] = "file:" + path.join(tarballs, f)
    }
    const root = require("./package.json")
    const pkg = {
      name: "my-plugin",
      private: true,
      type: "module",
      dependencies: { ...deps, effect: root.devDependencies.effect, "@effect/platform-node": root.devDependencies["@effect/platform-node"] },
      devDependencies: { "@types/node": root.devDependencies["@types/node"] }
    }
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2))
    if (manager === "pnpm") {
      const lines = Object.entries(deps).map(([name, spec]) => `  "${name}": "${spec}"`)
      // esbuild (the CLI) and protobufjs (under etcd3) need no install script: their binaries come as packages.
      const builds = "allowBuilds:\n  esbuild: false\n  protobufjs: false\n"
      fs.writeFileSync(path.join(dir, "pnpm-workspace.yaml"), `overrides:\n${lines.join("\n")}\n${builds}`)
    }
  ' "$dir" "$work/tarballs" "$manager"
}

wait_socket() {
  for _ in $(seq 1 300); do
    [ -S "$1" ] && return 0
    sleep 0.1
  done
  echo "pack-test: no socket at $1" >&2
  return 1
}

# Type-check, serve, call, probe, bundle: the same for every package manager.
exercise() {
  local dir=$1
  cd "$dir"
  step "[$2] type-check against the installed declarations"
  "$root/node_modules/.bin/tsc" -p tsconfig.json
  step "[$2] internal/ is not exported"
  node -e 'import("@docker-plugin-kit/server/internal/anything").then(
    () => { console.error("internal/ resolved"); process.exit(1) },
    (e) => { if (e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") { console.error(e); process.exit(1) } })'
  step "[$2] serve the example and call it over its socket with the testkit"
  node hello-volume.ts "$dir/hello.sock" &
  pids+=($!)
  wait_socket "$dir/hello.sock"
  node check.ts "$dir/hello.sock"
  step "[$2] the installed dpk: bundle the example, serve the bundle, probe it"
  ./node_modules/.bin/dpk build hello-volume.ts --out dist/hello.js
  node dist/hello.js "$dir/bundle.sock" &
  pids+=($!)
  wait_socket "$dir/bundle.sock"
  ./node_modules/.bin/dpk probe "$dir/bundle.sock"
  cd "$root"
}

step "install with npm"
make_app "$work/npm" npm
(cd "$work/npm" && npm install --prefer-offline --no-audit --no-fund --loglevel=error)
exercise "$work/npm" npm

# A project from `dpk init` (the installed dpk) passes its own tests right after npm install. volume and authz each
# get an npm install of their own; every other template asks for no dependency that authz's does not, with the same
# range (checked), so it runs on authz's installation: an npm install less per template.
init_project() {
  local api=$1 shared=${2:-} dir="$work/init-$1"
  local how="after npm install"
  [ -z "$shared" ] || how="on the authz project's installation"
  step "dpk init --api $api: the new project's own tests pass $how"
  "$work/npm/node_modules/.bin/dpk" init "$dir" --api "$api" --name "my-$api"
  (
    cd "$dir"
    if [ -n "$shared" ] && node -e '
      const [mine, theirs] = process.argv.slice(1).map((f) => require(f))
      const ranges = (p) => ({ ...p.dependencies, ...p.devDependencies })
      const missing = Object.entries(ranges(mine)).filter(([name, range]) => ranges(theirs)[name] !== range)
      if (missing.length > 0) { console.error(`not shared: ${missing.map(([n]) => n).join(", ")}`); process.exit(1) }
    ' "$dir/package.json" "$root/packages/cli/templates/authz/package.json"; then
      ln -s "$shared/node_modules" node_modules
    else
      # The kit is not on the registry yet: its tarballs stand in for the ^0.1.0 ranges.
      npm install --prefer-offline --no-audit --no-fund --loglevel=error "$work"/tarballs/*.tgz
    fi
    npm test
    npx tsc --noEmit
  )
}
init_project volume
init_project authz
for api in $(ls "$root/packages/cli/templates"); do
  case $api in volume | authz) ;; *) init_project "$api" "$work/init-authz" ;; esac
done

step "install with pnpm"
make_app "$work/pnpm" pnpm
(cd "$work/pnpm" && pnpm install --prefer-offline --loglevel=error)
exercise "$work/pnpm" pnpm

step "PASS"
