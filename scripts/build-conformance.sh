#!/usr/bin/env bash
# Builds the OCI distribution-spec conformance suite (v1.1.1) offline and prints the path of
# the test binary. Its Go sources, and those of the few libraries Debian does not package
# (ginkgo v2, gomega, reggie, resty), are in test/conformance/*.tar.xz (see the README there);
# everything else comes from Debian's golang-* packages under /usr/share/gocode. The build is
# cached per archive checksum, so only the first run pays for it.
set -euo pipefail
cd "$(dirname "$0")/.."
archive=test/conformance/oci-distribution-spec-conformance-v1.1.1.tar.xz
command -v go >/dev/null || { echo "build-conformance: go not found (apt-get install golang-go)" >&2; exit 1; }
sum=$(sha256sum "$archive" | cut -c1-16)
dir="${TMPDIR:-/tmp}/portcullis-oci-conformance-$sum"
bin="$dir/conformance.test"
if [ ! -x "$bin" ]; then
  rm -rf "$dir.partial" && mkdir -p "$dir.partial"
  tar -xJf "$archive" -C "$dir.partial"
  # GOPATH mode: the archive's tree first, then Debian's packaged Go libraries; no module proxy.
  (cd "$dir.partial/src/github.com/opencontainers/distribution-spec/conformance" &&
    GO111MODULE=off GOFLAGS= GOPROXY=off GOPATH="$dir.partial:/usr/share/gocode" \
      go test -c -o "$dir.partial/conformance.test" .) >&2
  rm -rf "$dir" && mv "$dir.partial" "$dir"
fi
echo "$bin"
