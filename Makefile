# roombox: `make demo` shows a meeting of three rooms and a browser guest; `make test` installs what it needs and runs
# every test. See README.md.

CARGO ?= cargo

.PHONY: all build deps test test-image lint demo bench bench-net fuzz deb repo image install clean

all: build

deps:
	scripts/install-deps

build: deps
	$(CARGO) build --locked

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --all-targets --features rppal -- -D warnings

# Also installs QEMU, Debian's kernel and busybox for the hardware tier (tests/hw_vm.rs), the
# packaging tools for tests/package.rs (builds both .debs, installs amd64 in a fresh root) and
# the image tools for tests/image.rs (builds both flashable images and checks their structure;
# scripts/test runs it beside the other tests at idle priority).
test: build lint
	scripts/install-deps vm deb cross image browser
	CARGO=$(CARGO) scripts/test

# Boots both flashable images under QEMU (arm64 on -M virt, amd64 under OVMF) with a key and
# a broken roombox.toml on the card, and checks the first boot over SSH (tests/image_boot.rs;
# about 10 minutes each under software emulation). IMAGE_REUSE=1 boots images already built.
test-image: build
	scripts/install-deps vm deb cross image
	$(CARGO) test --locked --test image_boot -- --ignored --test-threads=1

# Flashable images with roombox preinstalled, from Debian 12 packages and our .deb, in
# target/image/: roombox-rpi4-arm64.img.xz (Raspberry Pi 4/400/CM4) and roombox-amd64.img.xz
# (x86 mini-PCs, UEFI), each with its package manifest and checksum.
image:
	scripts/install-deps deb cross image
	scripts/image/build rpi4-arm64 amd64

# Debian packages for amd64 and arm64 (Raspberry Pi OS 64-bit) in target/deb/.
deb:
	scripts/install-deps deb
	scripts/deb/build amd64 arm64

# A signed apt repository of both packages in target/repo/ (static files to publish), signed
# by the key in target/repo-key/ (made on first use) or ROOMBOX_REPO_GNUPGHOME. Images built
# with ROOMBOX_REPO_URL=<where it is published> ROOMBOX_REPO_KEY=target/repo/roombox-archive-keyring.gpg
# update roombox from it.
repo:
	scripts/install-deps deb cross
	scripts/repo/build target/repo "$$(scripts/deb/build amd64 | tail -1)" "$$(scripts/deb/build arm64 | tail -1)"

# Builds this machine's package and installs it with apt (user, unit, config in /etc/roombox).
install:
	scripts/install-deps deb
	apt-get install -y "./$$(scripts/deb/build $$(dpkg --print-architecture) | tail -1)"

demo: build
	scripts/install-deps browser
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
	rm -rf demo-out target/deb target/sysroot-arm64 target/image
