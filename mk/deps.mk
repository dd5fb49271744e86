# See LICENSE. Third-party libraries: fetched from Debian's source archive, checked against
# pinned upstream tarball checksums, and built once as static musl libraries into $(SYSROOT).
# Nothing here is rebuilt when our own sources change.

CACHE    = build/cache
SRC      = build/src
SYSROOT  = $(CURDIR)/build/sysroot
STAMP    = build/sysroot/.stamp
FETCH    = sh mk/fetch-src.sh
MUSLCC   = musl-gcc
DEPCFLAGS = -Os -ffunction-sections -fdata-sections -fPIC
# SQLite and BearSSL sit on the daemons' hot path (every delivery is hashed and stored):
# they are built for speed; the rest for size.
HOTCFLAGS = -O2 -ffunction-sections -fdata-sections -fPIC

# package  upstream version  sha256 of the upstream (.orig) tarball
ZLIB_V        = 1.2.13.dfsg
ZLIB_SUM      = 71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1
BEARSSL_V     = 0.6+dfsg.1
BEARSSL_SUM   = 102a625bd8f6155260867a50c508df8d8c3f796985dd744df1a68e5cd1a79004
SQLITE_V      = 3.40.1
SQLITE_SUM    = aaa776260ab4dc976db34aa7891819484c8676b5b2783123ebc6301e2ca5d655
HTTPPARSER_V  = 2.9.4
HTTPPARSER_SUM = 467b9e30fd0979ee301065e70f637d525c28193449e1b13fbcb1b1fab3ad224f
CURL_V        = 7.88.1
CURL_SUM      = cdb38b72e36bc5d33d5b8810f8018ece1baa29a8f215b4495e495ded82bbf3c7
LIBGIT2_V     = 1.5.1+ds
LIBGIT2_SUM   = 96369433500bb528f036c16be9921bd437c098b745f1aaeccb91290815518970
# jsmn's source tarball is not served; its header-only binary package is byte-identical.
JSMN_V        = 1.1.0
JSMN_H_SUM    = 1ed6154dedf009212a08a397e9c4ed50a0ce31d5a8301bb294e137ae3188c13b

BUILDER_PKGS = gcc make musl-tools cmake tcl dpkg-dev patch xz-utils bzip2 pkg-config perl

DEPS = zlib bearssl sqlite jsmn httpparser curl libgit2

deps: $(DEPS:%=$(STAMP)-%)

# Builder packages: install whatever is missing, once.
build/.builder-pkgs:
	@mkdir -p build
	@missing=; for p in $(BUILDER_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing builder packages:$$missing" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >&2 || \
			{ echo "deps: fatal: unable to install$$missing (run as root)" >&2; exit 111; }; \
	fi
	@touch $@

$(STAMP)-zlib: build/.builder-pkgs
	$(FETCH) zlib $(ZLIB_V) $(ZLIB_SUM) $(CACHE) $(SRC)/zlib
	cd $(SRC)/zlib && CC=$(MUSLCC) CFLAGS="$(DEPCFLAGS)" ./configure --static --prefix=$(SYSROOT) >/dev/null
	$(MAKE) -s -C $(SRC)/zlib libz.a
	$(MAKE) -s -C $(SRC)/zlib install >/dev/null
	@touch $@

$(STAMP)-bearssl: build/.builder-pkgs
	$(FETCH) bearssl $(BEARSSL_V) $(BEARSSL_SUM) $(CACHE) $(SRC)/bearssl
	printf 'include conf/Unix.mk\nBUILD = musl\nCC = $(MUSLCC)\nLD = $(MUSLCC)\nLDDLL = $(MUSLCC)\nCFLAGS = -W -Wall $(HOTCFLAGS)\nDLL = no\nTOOLS = no\nTESTS = no\n' >$(SRC)/bearssl/conf/musl.mk
	$(MAKE) -s -C $(SRC)/bearssl CONF=musl lib >/dev/null
	mkdir -p $(SYSROOT)/lib $(SYSROOT)/include
	cp $(SRC)/bearssl/musl/libbearssl.a $(SYSROOT)/lib/
	cp $(SRC)/bearssl/inc/*.h $(SYSROOT)/include/
	@touch $@

SQLITE_DEFS = -DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_DEFAULT_WAL_SYNCHRONOUS=1 \
	-DSQLITE_DQS=0 -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_OMIT_DEPRECATED -DSQLITE_OMIT_SHARED_CACHE \
	-DSQLITE_DEFAULT_FOREIGN_KEYS=1 -DHAVE_USLEEP=1 -DHAVE_PREAD=1 -DHAVE_PWRITE=1

$(STAMP)-sqlite: build/.builder-pkgs
	$(FETCH) sqlite3 $(SQLITE_V) $(SQLITE_SUM) $(CACHE) $(SRC)/sqlite
	cd $(SRC)/sqlite && ./configure --disable-tcl --disable-shared >/dev/null
	$(MAKE) -s -C $(SRC)/sqlite sqlite3.c sqlite3.h >/dev/null
	cd $(SRC)/sqlite && $(MUSLCC) $(HOTCFLAGS) $(SQLITE_DEFS) -c sqlite3.c -o sqlite3-musl.o
	mkdir -p $(SYSROOT)/lib $(SYSROOT)/include
	rm -f $(SYSROOT)/lib/libsqlite3.a
	ar rcs $(SYSROOT)/lib/libsqlite3.a $(SRC)/sqlite/sqlite3-musl.o
	cp $(SRC)/sqlite/sqlite3.h $(SYSROOT)/include/
	@touch $@

$(STAMP)-jsmn: build/.builder-pkgs
	mkdir -p $(CACHE)/jsmn $(SYSROOT)/include
	cd $(CACHE)/jsmn && rm -f *.deb && apt-get download -qq libjsmn-dev=$(JSMN_V)-\* 2>/dev/null || \
		apt-get download -qq libjsmn-dev 2>/dev/null || { echo "deps: fatal: unable to download libjsmn-dev" >&2; exit 111; }
	rm -rf $(CACHE)/jsmn/x && dpkg -x $(CACHE)/jsmn/*.deb $(CACHE)/jsmn/x
	@got=$$(sha256sum $(CACHE)/jsmn/x/usr/include/jsmn.h | cut -d' ' -f1); \
	if [ "$$got" != "$(JSMN_H_SUM)" ]; then echo "deps: fatal: jsmn.h has sha256 $$got, expected $(JSMN_H_SUM)" >&2; exit 111; fi
	cp $(CACHE)/jsmn/x/usr/include/jsmn.h $(SYSROOT)/include/
	@touch $@

$(STAMP)-httpparser: build/.builder-pkgs
	$(FETCH) http-parser $(HTTPPARSER_V) $(HTTPPARSER_SUM) $(CACHE) $(SRC)/http-parser
	cd $(SRC)/http-parser && $(MUSLCC) $(DEPCFLAGS) -DHTTP_PARSER_STRICT=0 -I. -c http_parser.c -o http_parser-musl.o
	mkdir -p $(SYSROOT)/lib $(SYSROOT)/include
	rm -f $(SYSROOT)/lib/libhttp_parser.a
	ar rcs $(SYSROOT)/lib/libhttp_parser.a $(SRC)/http-parser/http_parser-musl.o
	cp $(SRC)/http-parser/http_parser.h $(SYSROOT)/include/
	@touch $@

# curl: BearSSL for TLS, zlib, and nothing else. Debian's source carries its GnuTLS and NSS
# flavours as the last two patches; its own default (OpenSSL) build takes them off again.
CURL_CONF = --host=x86_64-linux-musl --prefix=$(SYSROOT) --disable-shared --enable-static \
	--with-bearssl=$(SYSROOT) --with-zlib=$(SYSROOT) --without-openssl --without-gnutls --without-nss \
	--without-libpsl --without-libidn2 --without-brotli --without-zstd --without-nghttp2 \
	--without-libssh2 --without-librtmp --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
	--disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp \
	--disable-gopher --disable-mqtt --disable-ftp --disable-file --disable-manual --disable-docs \
	--disable-ntlm --disable-alt-svc --disable-hsts --disable-unix-sockets --without-ca-path \
	--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --enable-threaded-resolver

$(STAMP)-curl: build/.builder-pkgs $(STAMP)-zlib $(STAMP)-bearssl
	$(FETCH) curl $(CURL_V) $(CURL_SUM) $(CACHE) $(SRC)/curl
	cd $(SRC)/curl && patch -s -R -p1 <debian/patches/99_nss.patch && patch -s -R -p1 <debian/patches/90_gnutls.patch
	cd $(SRC)/curl && touch aclocal.m4 configure Makefile.in */Makefile.in */*/Makefile.in 2>/dev/null; \
		CC=$(MUSLCC) CFLAGS="$(DEPCFLAGS)" CPPFLAGS="-I$(SYSROOT)/include" LDFLAGS="-L$(SYSROOT)/lib" \
		./configure $(CURL_CONF) >configure.out 2>&1 || { tail -30 configure.out; exit 1; }
	$(MAKE) -s -C $(SRC)/curl/lib >/dev/null
	$(MAKE) -s -C $(SRC)/curl/lib install >/dev/null
	$(MAKE) -s -C $(SRC)/curl/include install >/dev/null
	@touch $@

$(STAMP)-libgit2: build/.builder-pkgs $(STAMP)-zlib $(STAMP)-httpparser
	$(FETCH) libgit2 $(LIBGIT2_V) $(LIBGIT2_SUM) $(CACHE) $(SRC)/libgit2
	rm -rf $(SRC)/libgit2/_build && mkdir -p $(SRC)/libgit2/_build
	cd $(SRC)/libgit2/_build && CC=$(MUSLCC) CFLAGS="$(DEPCFLAGS)" cmake .. -DCMAKE_BUILD_TYPE=MinSizeRel \
		-DCMAKE_INSTALL_PREFIX=$(SYSROOT) -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF \
		-DBUILD_TESTS=OFF -DBUILD_CLI=OFF -DBUILD_CLAR=OFF -DBUILD_EXAMPLES=OFF -DBUILD_FUZZERS=OFF \
		-DUSE_HTTP_PARSER=system -DREGEX_BACKEND=regcomp -DUSE_BUNDLED_ZLIB=OFF -DUSE_NTLMCLIENT=OFF \
		-DUSE_SSH=OFF -DUSE_HTTPS=OFF -DUSE_GSSAPI=OFF \
		-DCMAKE_FIND_ROOT_PATH=$(SYSROOT) -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY \
		-DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY \
		-DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER >cmake.out 2>&1 || { tail -30 cmake.out; exit 1; }
	$(MAKE) -s -C $(SRC)/libgit2/_build >/dev/null
	$(MAKE) -s -C $(SRC)/libgit2/_build install >/dev/null
	@touch $@
