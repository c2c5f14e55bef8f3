# flowrec build: BPF objects and skeletons, both binaries, tests, benchmarks.
#
#   make            build/flowrec and build/flowq
#   make deps       install build and test dependencies from Debian's archive
#   make record     build, then record into ./flowrec-data until Ctrl-C
#   make test       build, then run unit and end-to-end tests, plain and under ASan+UBSan
#   make bench      side-by-side overhead measurements (not a test)
#   SANITIZE=1      build everything with -fsanitize=address,undefined

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
BUILD    ?= build
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS   ?= -O2 -g
VERSION  := 0.1.0
PREFIX   ?= /usr/local
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Ilib -I$(BUILD)
# flowq looks for the shipped reports where `make install PREFIX=...` puts them: build and
# install with the same PREFIX.
CFLAGS   += -DFR_VERSION='"$(VERSION)"' -DFR_REPORTS_DIR='"$(PREFIX)/share/flowrec/reports"'
LDLIBS   := -lbpf -lelf -lz -lsqlite3 -lpcap -lldns -lpthread
# libfixbuf (lib/ipfix.c) through pkg-config, expanded only when a recipe runs: `make record`
# installs it (deps) in the same invocation that builds. Its glib headers come in as system
# headers, out of reach of -Werror.
FIXBUF_CFLAGS = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags libfixbuf 2>/dev/null))
FIXBUF_LIBS   = $(shell pkg-config --libs libfixbuf 2>/dev/null)
ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/schema_sql.o
REC_SRCS := $(wildcard recorder/*.c)
REC_OBJS := $(REC_SRCS:%.c=$(BUILD)/%.o)
Q_SRCS   := $(wildcard query/*.c)
Q_OBJS   := $(Q_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS:= $(wildcard tests/unit/*.c)
UNIT_BINS:= $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

DEB_BUILD_DEPS := build-essential clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev \
                  libsqlite3-dev libpcap-dev libldns-dev libcmocka-dev libclang-rt-14-dev pkg-config \
                  libfixbuf-dev
DEB_TEST_DEPS  := sqlite3 iproute2 python3 iperf3 socat tcpdump tshark jq libbpf-tools \
                  dnsmasq-base bind9-dnsutils man-db groff-base nftables iputils-ping \
                  qemu-system-x86 busybox-static kmod strace libfixbuf-tools nfdump pmacct

.PHONY: all deps record test unit e2e bench clean
.SECONDARY:
all: $(BUILD)/flowrec $(BUILD)/flowq

# Quick when everything is present: dpkg-query first, apt-get only for what is missing.
deps:
	@missing=$$(for p in $(DEB_BUILD_DEPS) $(DEB_TEST_DEPS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# vmlinux.h is generated from the build machine's BTF (see docs/architecture.md).
$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) include/flowrec.h $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -I$(BUILD) -c $< -o $@
	llvm-strip -g $@ 2>/dev/null || true

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# schema.sql is compiled in, so the binaries carry the schema they migrate to.
$(BUILD)/schema_sql.c: schema/schema.sql
	@mkdir -p $(@D)
	{ echo '/* generated from schema/schema.sql */'; echo 'const char fr_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; echo ';'; } > $@

$(BUILD)/schema_sql.o: $(BUILD)/schema_sql.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c $(wildcard include/*.h lib/*.h query/*.h recorder/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(FIXBUF_CFLAGS) -c $< -o $@

$(REC_OBJS): $(BUILD)/flowrec.skel.h $(BUILD)/iter_sockets.skel.h

$(BUILD)/flowrec: $(REC_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(FIXBUF_LIBS)

$(BUILD)/flowq: $(Q_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(FIXBUF_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(FIXBUF_CFLAGS) -DFR_TEST_DATA='"$(CURDIR)/tests/unit"' $(LDFLAGS) $^ -o $@ \
	    $(LDLIBS) $(FIXBUF_LIBS) -lcmocka

# The flow table lives in the recorder; its unit test links it directly.
$(BUILD)/tests/test_flow_table: $(BUILD)/recorder/flow_table.o
# So does the container-id parser (and the cgroup code it uses).
$(BUILD)/tests/test_container: $(BUILD)/recorder/container.o $(BUILD)/recorder/cgroup.o

record: deps all
	./$(BUILD)/flowrec --data ./flowrec-data -v

unit: $(UNIT_BINS)
	tests/run-unit $(UNIT_BINS)

# Every test, then again with ASan+UBSan in a separate build tree; one summary line at the end.
test: deps
	tests/run-all

bench: deps all
	bench/run

clean:
	rm -rf $(BUILD) build-san

# libFuzzer runs over lib/pcapng.c's readers and lib/dns.c's and lib/ippkt.c's parsers, each
# bounded by FUZZ_SECONDS. Needs clang's libFuzzer runtime (Debian: libclang-rt-14-dev). The
# seeds are copied to a scratch directory so that a run never adds to the committed corpus.
# Every target runs even if one finds a crash; a crash stops that target's run, leaves its
# input in $(BUILD)/fuzz/ (named after the target) and makes the target fail.
FUZZ_SECONDS ?= 30
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -Iinclude -Ilib

.PHONY: fuzz
fuzz:
	@mkdir -p $(BUILD)/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) lib/pcapng.c tests/fuzz/fuzz_pcapng.c -o $(BUILD)/fuzz/fuzz_pcapng
	$(FUZZ_CC) $(FUZZ_CFLAGS) lib/dns.c tests/fuzz/fuzz_dns.c -o $(BUILD)/fuzz/fuzz_dns -lldns
	$(FUZZ_CC) $(FUZZ_CFLAGS) lib/ippkt.c tests/fuzz/fuzz_ippkt.c -o $(BUILD)/fuzz/fuzz_ippkt
	@scratch=$$(mktemp -d /tmp/fuzz.XXXXXX) || exit 1; trap 'rm -rf "$$scratch"' EXIT; failed=; \
	for t in pcapng dns ippkt; do \
	    mkdir "$$scratch/$$t" && cp tests/fuzz/corpus/$$t/* "$$scratch/$$t"/ || exit 1; \
	    dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	    echo "fuzz_$$t: $(FUZZ_SECONDS)s"; \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 $$dict \
	        -artifact_prefix=$(BUILD)/fuzz/$$t- "$$scratch/$$t" || failed="$$failed fuzz_$$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crash found by$$failed (inputs in $(BUILD)/fuzz/)"; exit 1; fi

# make install [PREFIX=/usr/local] [DESTDIR=]: both binaries, the reports, the man pages, the
# bash completion (one file, flowq a symlink to it) and the systemd unit, whose ExecStart=
# gets $(SBINDIR) from contrib/flowrec.service.in. Installs what `all` built in $(BUILD).
DESTDIR        ?=
BINDIR         ?= $(PREFIX)/bin
SBINDIR        ?= $(PREFIX)/sbin
DATADIR        ?= $(PREFIX)/share
MANDIR         ?= $(DATADIR)/man
BASHCOMPDIR    ?= $(DATADIR)/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

.PHONY: install
install: all
	install -D -m 0755 $(BUILD)/flowrec $(DESTDIR)$(SBINDIR)/flowrec
	install -D -m 0755 $(BUILD)/flowq $(DESTDIR)$(BINDIR)/flowq
	install -d -m 0755 $(DESTDIR)$(DATADIR)/flowrec/reports
	for f in schema/reports/*.sql; do \
	    [ -e "$$f" ] || continue; \
	    install -m 0644 "$$f" $(DESTDIR)$(DATADIR)/flowrec/reports/ || exit 1; \
	done
	install -D -m 0644 man/flowrec.8 $(DESTDIR)$(MANDIR)/man8/flowrec.8
	install -D -m 0644 man/flowq.1 $(DESTDIR)$(MANDIR)/man1/flowq.1
	install -D -m 0644 contrib/flowrec.bash-completion $(DESTDIR)$(BASHCOMPDIR)/flowrec
	ln -sfn flowrec $(DESTDIR)$(BASHCOMPDIR)/flowq
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' contrib/flowrec.service.in > $(BUILD)/flowrec.service
	install -D -m 0644 $(BUILD)/flowrec.service $(DESTDIR)$(SYSTEMDUNITDIR)/flowrec.service
