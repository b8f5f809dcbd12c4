#!/usr/bin/env bash
# capture.sh records the ClientHello of real TLS clients into inspect/testdata/
# for the golden and tshark tests: <client>.bin holds the client's TLS records
# up to the end of its ClientHello, clients.txt the versions they came from.
#
# Usage: inspect/testdata/capture.sh [CLIENT...]
#   CLIENTS: go curl openssl gnutls chromium firefox (default: all)
#   SKIP_INSTALL=1 skips apt-get (the clients are already installed).
#
# Every connection is to 127.0.0.1 (hellocap's listener). The browsers are
# also given a proxy on a closed loopback port for everything else, so their
# background requests fail at once instead of leaving the machine.
# Afterwards: go test ./inspect/ -run Golden -update, and review the diff.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(go curl openssl gnutls chromium firefox)

if [ "${SKIP_INSTALL:-}" != 1 ]; then
	export DEBIAN_FRONTEND=noninteractive
	# wireshark-common asks whether non-root users may capture packets.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get update -q
	apt-get -o DPkg::Lock::Timeout=900 install -y -q curl openssl gnutls-bin chromium firefox-esr tshark
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
	timeout -k 10 180 "$hellocap" -out "$here/$name.bin" -timeout 90s "$@"
	printf '%s\t%s\n' "$name" "$version" >>"$work/clients.txt"
}

for c in "${clients[@]}"; do
	case $c in
	go)
		capture go "$(go version | cut -d' ' -f3-)" -go
		;;
	curl)
		capture curl "$(curl --version | head -n1)" -- \
			curl -sS --max-time 30 --resolve 'localhost:{port}:127.0.0.1' 'https://localhost:{port}/'
		;;
	openssl)
		capture openssl "$(openssl version)" -- \
			openssl s_client -connect '127.0.0.1:{port}' -servername localhost -alpn h2,http/1.1
		;;
	gnutls)
		capture gnutls "$(gnutls-cli --version | head -n1)" -- \
			gnutls-cli --sni-hostname=localhost -p '{port}' 127.0.0.1
		;;
	chromium)
		profile=$(mktemp -d -p "$work")
		capture chromium "$(chromium --version 2>/dev/null)" -- \
			chromium --headless --no-sandbox --disable-gpu --no-first-run \
			--disable-background-networking --disable-component-update --disable-sync \
			--disable-default-apps --disable-domain-reliability --no-pings \
			--proxy-server="http://$blackhole" \
			--user-data-dir="$profile" --dump-dom 'https://localhost:{port}/'
		;;
	firefox)
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
		capture firefox "$(firefox-esr --version 2>/dev/null)" -- \
			firefox-esr --headless --no-remote --profile "$profile" \
			--screenshot "$profile/shot.png" 'https://localhost:{port}/'
		;;
	*)
		echo "capture.sh: unknown client $c" >&2
		exit 2
		;;
	esac
done

# Keep the lines of clients not captured this time.
if [ -f "$here/clients.txt" ]; then
	cut -f1 "$work/clients.txt" | grep -vxFf - "$here/clients.txt" >>"$work/clients.txt" || true
fi
sort "$work/clients.txt" >"$here/clients.txt"
echo "capture.sh: wrote $(wc -l <"$here/clients.txt") clients to $here/clients.txt" >&2
