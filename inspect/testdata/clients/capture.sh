#!/usr/bin/env bash
# capture.sh captures the ClientHello of every real client installed here
# into this directory (<client>.bin: the TLS records up to the end of the
# hello; clients.txt: each client's version line as the client prints it),
# then regenerates inspect/knownclients.txt, the known-client table tlslens
# embeds, from these captures only.
#
# Usage: inspect/testdata/clients/capture.sh [CLIENT...]   (default: all)
#   SKIP_INSTALL=1 skips apt-get (the clients are already installed).
# Chromium randomises its extension order, so it is captured three times:
# JA4 sorts them and is the same each time; each distinct ja4_r is kept.
# Afterwards: go test ./inspect/ -run KnownClients, and review the diff.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(curl wget openssl gnutls chromium chromium-2 chromium-3 firefox
	nethttp python-urllib python-requests node java)

OUT=$here "$here/../capture.sh" "${clients[@]}"
cd "$root"
go run ./inspect/internal/clientsgen -dir inspect/testdata/clients -out inspect/knownclients.txt
