#!/bin/sh
# Install the Debian packages vpnd needs to build, run and test, if any are missing.
# Never lets a package start a service (policy-rc.d), and runs apt-get update first.
set -eu
PKGS="build-essential pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libcmocka-dev \
libgnutls28-dev python3-pytest python3-requests curl sqlite3 wrk \
strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins \
bird2 iputils-ping iproute2 nftables clang valgrind nginx-light"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "vpnd: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "vpnd: installing:$missing"
rc_was_there=0
[ -e /usr/sbin/policy-rc.d ] && rc_was_there=1
if [ $rc_was_there = 0 ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
fi
trap '[ $rc_was_there = 0 ] && rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
