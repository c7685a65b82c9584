#!/usr/bin/env bash
# Installs the software WebGPU adapters onelayer uses on a machine without a GPU:
#   lavapipe (Mesa >= 24, LLVM-compiled: the fast one, taken by default) and
#   SwiftShader (ships with chromium: the fallback, and the adapter of the browser tests).
# Debian 12 gets Mesa from bookworm-backports, added for the mirror the machine's apt sources already use;
# Debian 13 and Ubuntu 24.04 ship Mesa >= 24. Safe to run again: it installs only what is missing.
# Usage (as root): scripts/setup-software-adapter.sh [--no-chromium]
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
want_chromium=1
[ "${1:-}" = "--no-chromium" ] && want_chromium=0

say() { echo "setup-software-adapter: $*"; }
die() { echo "setup-software-adapter: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it calls apt-get)"
[ -r /etc/os-release ] || die "/etc/os-release missing: not a Debian or Ubuntu system?"
. /etc/os-release

mesa_major() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/'; }
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# The URI of the apt source that serves the release's main suite (deb822 .sources or one-line .list files).
mirror_for() {
  local suite="$1" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v s="$suite" '
      /^[[:space:]]*$/ { if (uri != "" && hit) print uri; uri = ""; hit = 0; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
      END { if (uri != "" && hit) print uri }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk -v s="$suite" '$1 == "deb" { o = 2; if ($2 ~ /^\[/) { while ($o !~ /\]$/) o++; o++ } if ($(o + 1) == s) print $o }' "$f"
  done
}

packages=()
have libvulkan1 || packages+=(libvulkan1)
release=""
case "${ID:-}:${VERSION_CODENAME:-}" in
  debian:bookworm)
    if [ "$(mesa_major || echo 0)" -lt 24 ] 2>/dev/null || ! have mesa-vulkan-drivers; then
      if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        uri="$(mirror_for bookworm | grep -v -- '-security' | head -n 1)"
        [ -n "$uri" ] || die "no apt source for the 'bookworm' suite found in /etc/apt/sources.list{,.d}: add bookworm-backports for your mirror by hand"
        say "adding bookworm-backports from $uri (the mirror your apt sources use)"
        printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
          > /etc/apt/sources.list.d/onelayer-backports.sources
      fi
      release="bookworm-backports"
    fi
    ;;
  debian:*|ubuntu:*)
    have mesa-vulkan-drivers && [ "$(mesa_major || echo 0)" -ge 24 ] || packages+=(mesa-vulkan-drivers)
    ;;
  *) die "unsupported system '${PRETTY_NAME:-unknown}': install Mesa >= 24's mesa-vulkan-drivers (lavapipe) and libvulkan1 yourself" ;;
esac
if [ "$want_chromium" = 1 ] && [ "${ID:-}" = debian ] && [ ! -x /usr/bin/chromium ]; then packages+=(chromium); fi

if [ -n "$release" ] || [ "${#packages[@]}" -gt 0 ]; then
  apt-get update -qq
  [ "${#packages[@]}" -gt 0 ] && { say "apt-get install ${packages[*]}"; apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }
  [ -n "$release" ] && { say "apt-get install -t $release mesa-vulkan-drivers"; apt-get install -y -qq --no-install-recommends -t "$release" mesa-vulkan-drivers >/dev/null; }
fi
major="$(mesa_major || echo 0)"
[ "${major:-0}" -ge 24 ] || die "mesa-vulkan-drivers is ${major:-missing} after install; Dawn needs Mesa >= 24 for lavapipe"
say "lavapipe from Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) is installed$([ -x /usr/bin/chromium ] && echo '; SwiftShader (chromium) too')"
