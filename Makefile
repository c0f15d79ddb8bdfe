# roombox: `make demo` shows a meeting of three rooms; `make test` installs what it needs and runs
# every test. See README.md.

CARGO ?= cargo

.PHONY: all build deps test lint demo bench bench-net fuzz deb install clean

all: build

deps:
	scripts/install-deps

build: deps
	$(CARGO) build --locked

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --all-targets --features rppal -- -D warnings

# Also installs QEMU, Debian's kernel and busybox for the hardware tier (tests/hw_vm.rs), and
# the packaging tools for tests/package.rs (builds both .debs, installs amd64 in a fresh root).
test: build lint
	scripts/install-deps vm deb cross browser
	$(CARGO) test --locked

# Debian packages for amd64 and arm64 (Raspberry Pi OS 64-bit) in target/deb/.
deb:
	scripts/install-deps deb
	scripts/deb/build amd64 arm64

# Builds this machine's package and installs it with apt (user, unit, config in /etc/roombox).
install:
	scripts/install-deps deb
	apt-get install -y "./$$(scripts/deb/build $$(dpkg --print-architecture) | tail -1)"

demo: build
	scripts/demo

# Latency, join time, CPU, memory and start-up, roombox against a hand-written gst-launch
# pipeline in the same run: writes bench/results.md and bench/latency.png (a few minutes).
bench: build
	scripts/install-deps bench browser
	$(CARGO) bench --locked --bench room

# Calls over impaired networks (loss, jitter, caps, an outage) between two rooms in network
# namespaces: writes bench/network.md and bench/network.png (about 6 minutes).
bench-net: build
	scripts/install-deps bench
	$(CARGO) bench --locked --bench net

# Coverage-guided fuzzing (nightly toolchain and cargo-fuzz): the SIP parser, SDP offer/answer,
# the config loader and the control protocol, FUZZ_SECONDS (60) each. `make test` runs the
# bounded stable counterpart (tests/fuzz_inputs.rs). Leak reports are off: GStreamer's one-time
# init (the SDP target needs it) keeps 16 KB for the life of the process.
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || cargo +nightly install cargo-fuzz --locked
	cd fuzz && for target in sip_message sdp_offer_answer config control_request; do \
		cargo +nightly fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) -detect_leaks=0 || exit 1; done

clean:
	$(CARGO) clean
	rm -rf demo-out target/deb target/sysroot-arm64
