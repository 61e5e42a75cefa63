#!/usr/bin/env bash
# Installs the real components the tests run (Debian packages), if any is missing.
# Used by `npm test` (pretest) and by .ci/run. Needs root (or sudo) and apt.
set -uo pipefail

# command -> Debian package
declare -A NEEDS=(
  [docker-registry]=docker-registry   # the real registry:2 the gateway fronts
  [skopeo]=skopeo                     # the real client for push/pull/inspect/delete
  [dockerd]=docker.io                 # the real docker client (the daemon runs without containers)
  [chromium]=chromium                 # dashboard and CORS tests run in a real browser
  [htpasswd]=apache2-utils            # htpasswd fixtures made by the real tool
  [openssl]=openssl                   # TLS version checks
  [curl]=curl
  [podman]=podman                     # podman search, the second real search client
  [prometheus-nginx-exporter]=prometheus-nginx-exporter   # real consumers of /nginx_status ...
  [collectd]=collectd-core
  [promtool]=prometheus               # ... and of /metrics
  [swift-proxy-server]=swift-proxy    # OpenStack Swift with s3api: the S3 driver's real bucket ...
  [swift-object-server]=swift-object
  [swift-container-server]=swift-container
  [swift-account-server]=swift-account
  [swift-ring-builder]=swift          # ... its rings ...
  [memcached]=memcached               # ... and the cache tempauth needs
  [go]=golang-go                      # builds the OCI conformance suite (test/conformance) ...
  [haproxy]=haproxy                   # a real round-robin load balancer in front of several instances
)
missing=()
for cmd in "${!NEEDS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${NEEDS[$cmd]}")
done
# ... from these Debian Go libraries (packages without a command: asked of dpkg).
for pkg in golang-golang-x-net-dev golang-golang-x-sys-dev golang-golang-x-text-dev golang-gopkg-yaml.v3-dev \
  golang-github-google-go-cmp-dev golang-github-google-uuid-dev golang-github-opencontainers-go-digest-dev \
  golang-github-mitchellh-mapstructure-dev golang-github-asaskevich-govalidator-dev golang-github-go-logr-logr-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "missing test packages: ${missing[*]} (run as root, or: apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
fi
echo "installing test packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/portcullis-apt.log 2>&1 || {
  tail -20 /tmp/portcullis-apt.log >&2; exit 1; }
# Debian starts some of these as services on install; tests start their own on loopback ports.
for svc in prometheus prometheus-nginx-exporter collectd docker-registry docker containerd nginx memcached swift-proxy swift-object swift-container swift-account haproxy; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
