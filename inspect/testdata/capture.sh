#!/usr/bin/env bash
# capture.sh records the ClientHello of real TLS clients into inspect/testdata/
# for the golden and tshark tests: <client>.bin holds the client's TLS records
# up to the end of its ClientHello, clients.txt the versions they came from.
#
# Usage: inspect/testdata/capture.sh [CLIENT...]
#   CLIENTS: go curl openssl gnutls chromium firefox (default), and also
#   nethttp wget python-urllib python-requests node java; a name may end in
#   -N (chromium-2) to capture the same client again into its own file.
#   SKIP_INSTALL=1 skips apt-get (the clients are already installed).
#   OUT=DIR writes the captures and clients.txt to DIR instead (the known
#   client table's captures: inspect/testdata/clients/capture.sh).
#   A client that is not installed is skipped with a message.
#
# Every connection is to 127.0.0.1 (hellocap's listener). The browsers are
# also given a proxy on a closed loopback port for everything else, so their
# background requests fail at once instead of leaving the machine.
# Afterwards: go test ./inspect/ -run Golden -update, and review the diff.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${OUT:-$here}
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(go curl openssl gnutls chromium firefox)

if [ "${SKIP_INSTALL:-}" != 1 ]; then
	export DEBIAN_FRONTEND=noninteractive
	# wireshark-common asks whether non-root users may capture packets.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get update -q
	apt-get -o DPkg::Lock::Timeout=900 install -y -q curl openssl gnutls-bin chromium firefox-esr tshark \
		wget python3-requests nodejs openjdk-17-jdk-headless
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/hellocap" ./inspect/internal/hellocap)
hellocap=$work/hellocap

# A closed loopback port: anything the browsers try beyond localhost is refused.
blackhole=127.0.0.1:9

capture() { # capture NAME VERSION-LINE ARGS...
	local name=$1 version=$2
	shift 2
	echo "== $name ($version)" >&2
	# hellocap stops the client itself; timeout is the backstop if it hangs.
	timeout -k 10 180 "$hellocap" -out "$out/$name.bin" -timeout 90s "$@"
	printf '%s\t%s\n' "$name" "$version" >>"$work/clients.txt"
}

# have reports whether a client's program is installed, saying so if not.
have() { # have CLIENT PROGRAM
	command -v "$2" >/dev/null && return 0
	echo "capture.sh: skipping $1: $2 is not installed" >&2
	return 1
}

# python3 is Debian's: requests comes from its python3-requests package.
python=/usr/bin/python3

for name in "${clients[@]}"; do
	c=${name%-[0-9]*}
	case $c in
	nethttp)
		capture "$name" "$(go version | cut -d' ' -f3-)" -nethttp
		;;
	wget)
		have "$name" wget || continue
		capture "$name" "$(wget --version | head -n1)" -- \
			wget -q -O /dev/null --no-proxy --tries=1 --timeout=30 'https://localhost:{port}/'
		;;
	python-urllib)
		have "$name" "$python" || continue
		capture "$name" "$("$python" --version)" -- \
			env -u https_proxy -u HTTPS_PROXY "$python" -c \
			'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=30)' 'https://localhost:{port}/'
		;;
	python-requests)
		have "$name" "$python" || continue
		if ! "$python" -c 'import requests' 2>/dev/null; then
			echo "capture.sh: skipping $name: python3-requests is not installed" >&2
			continue
		fi
		capture "$name" "$("$python" -c 'import requests, sys; print("requests", requests.__version__, "(Python", sys.version.split()[0] + ")")')" -- \
			env -u https_proxy -u HTTPS_PROXY "$python" -c \
			'import sys, requests; requests.get(sys.argv[1], timeout=30)' 'https://localhost:{port}/'
		;;
	node)
		have "$name" node || continue
		capture "$name" "node $(node --version)" -- \
			node -e 'require("https").get({host: "127.0.0.1", port: process.argv[1], servername: "localhost", path: "/"}).on("error", () => {})' '{port}'
		;;
	java)
		have "$name" java || continue
		capture "$name" "$(java -version 2>&1 | head -n1)" -- \
			java "$here/clients/HTTPClient.java" 'https://localhost:{port}/'
		;;
	go)
		capture "$name" "$(go version | cut -d' ' -f3-)" -go
		;;
	curl)
		have "$name" curl || continue
		capture "$name" "$(curl --version | head -n1)" -- \
			curl -sS --max-time 30 --resolve 'localhost:{port}:127.0.0.1' 'https://localhost:{port}/'
		;;
	openssl)
		have "$name" openssl || continue
		capture "$name" "$(openssl version)" -- \
			openssl s_client -connect '127.0.0.1:{port}' -servername localhost -alpn h2,http/1.1
		;;
	gnutls)
		have "$name" gnutls-cli || continue
		capture "$name" "$(gnutls-cli --version | head -n1)" -- \
			gnutls-cli --sni-hostname=localhost -p '{port}' 127.0.0.1
		;;
	chromium)
		have "$name" chromium || continue
		profile=$(mktemp -d -p "$work")
		capture "$name" "$(chromium --version 2>/dev/null)" -- \
			chromium --headless --no-sandbox --disable-gpu --no-first-run \
			--disable-background-networking --disable-component-update --disable-sync \
			--disable-default-apps --disable-domain-reliability --no-pings \
			--proxy-server="http://$blackhole" \
			--user-data-dir="$profile" --dump-dom 'https://localhost:{port}/'
		;;
	firefox)
		have "$name" firefox-esr || continue
		profile=$(mktemp -d -p "$work")
		cat >"$profile/user.js" <<EOF
user_pref("network.proxy.type", 1);
user_pref("network.proxy.http", "${blackhole%:*}");
user_pref("network.proxy.http_port", ${blackhole#*:});
user_pref("network.proxy.ssl", "${blackhole%:*}");
user_pref("network.proxy.ssl_port", ${blackhole#*:});
user_pref("network.proxy.no_proxies_on", "localhost, 127.0.0.1");
user_pref("network.proxy.allow_hijacking_localhost", false);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.trr.mode", 5);
user_pref("app.update.enabled", false);
user_pref("app.normandy.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("services.settings.server", "http://$blackhole/");
EOF
		capture "$name" "$(firefox-esr --version 2>/dev/null)" -- \
			firefox-esr --headless --no-remote --profile "$profile" \
			--screenshot "$profile/shot.png" 'https://localhost:{port}/'
		;;
	*)
		echo "capture.sh: unknown client $name" >&2
		exit 2
		;;
	esac
done

# Keep the lines of clients not captured this time.
touch "$work/clients.txt"
if [ -f "$out/clients.txt" ]; then
	cut -f1 "$work/clients.txt" | grep -vxFf - "$out/clients.txt" >>"$work/clients.txt" || true
fi
sort "$work/clients.txt" >"$out/clients.txt"
echo "capture.sh: wrote $(wc -l <"$out/clients.txt") clients to $out/clients.txt" >&2
