#!/bin/sh
# See LICENSE. Fetch one Debian source package, check its upstream tarball and unpack it.
#
# usage: fetch-src.sh PKG UPSTREAM_VERSION ORIG_SHA256 CACHE_DIR DEST_DIR
#
# The upstream tarball stays byte-identical across Debian revisions of one upstream version,
# so we pin the upstream version and the sha256 of the .orig tarball, and take whichever
# Debian revision of that version the archive offers now (newer security patches). The
# machine's apt configuration is left alone: a private sources file and lists folder live
# under CACHE_DIR/apt.
set -eu

pkg=$1 upver=$2 sum=$3 cache=$4 dest=$5
mkdir -p "$cache"; cache=$(cd "$cache" && pwd)
apt=$cache/apt
mkdir -p "$apt/lists/partial" "$cache/src"

die() { echo "fetch-src: fatal: $*" >&2; exit 111; }

opts="-o Dir::Etc::SourceList=$apt/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache -o APT::Get::List-Cleanup=0"

if [ ! -f "$apt/updated" ]; then
	url=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	sec=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | sed -n 2p)
	: "${url:=http://deb.debian.org/debian}" "${sec:=http://deb.debian.org/debian-security}"
	kr=/usr/share/keyrings/debian-archive-keyring.gpg
	{
		echo "deb-src [signed-by=$kr] $url bookworm main"
		echo "deb-src [signed-by=$kr] $url bookworm-updates main"
		echo "deb-src [signed-by=$kr] $sec bookworm-security main"
	} >"$apt/sources.list"
	mkdir -p "$apt/cache/archives/partial"
	# shellcheck disable=SC2086
	apt-get -qq $opts update >&2 || die "unable to update the private source lists in $apt"
	touch "$apt/updated"
fi

keep=$cache/src/$pkg-$upver
if ! ls "$keep"/*.dsc >/dev/null 2>&1; then
	# Every Debian version of $pkg on offer whose upstream part is $upver, newest first.
	# shellcheck disable=SC2086
	vers=$(apt-cache $opts showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -u |
		while read -r v; do
			u=${v#*:}; u=${u%-*}
			[ "$u" = "$upver" ] && echo "$v"
		done | sort -r -V)
	if [ -z "$vers" ]; then
		offer=$(apt-cache $opts showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -u | tr '\n' ' ')
		die "package $pkg: upstream version $upver is not in the archive (it offers: ${offer:-nothing})"
	fi
	tmp=$keep.tmp
	for v in $vers; do
		rm -rf "$tmp"; mkdir -p "$tmp"
		# shellcheck disable=SC2086
		if (cd "$tmp" && apt-get -qq $opts source --download-only "$pkg=$v" >/dev/null 2>&1); then
			break
		fi
		echo "fetch-src: warning: unable to download $pkg=$v, trying an older revision" >&2
		v=
	done
	[ -n "$v" ] || die "unable to download any revision of $pkg $upver"
	rm -rf "$keep"; mv "$tmp" "$keep"
fi

orig=$(ls "$keep"/*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n 1)
[ -n "$orig" ] || die "package $pkg: no .orig tarball in $keep"
got=$(sha256sum "$orig" | cut -d' ' -f1)
if [ "$got" != "$sum" ]; then
	rm -rf "$keep"
	die "package $pkg: $(basename "$orig") has sha256 $got, expected $sum"
fi
dsc=$(ls "$keep"/*.dsc | head -n 1)
rm -rf "$dest"; mkdir -p "$(dirname "$dest")"
dpkg-source --no-check -x "$dsc" "$dest" >/dev/null || die "unable to unpack $dsc"
echo "$(basename "$dsc" .dsc)" >"$dest/.orket-fetched"
echo "fetch-src: $(basename "$dsc" .dsc) unpacked in $dest" >&2
