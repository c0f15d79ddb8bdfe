# roombox: `make demo` shows two rooms in a call; `make test` installs what it needs and runs
# every test. See README.md.

CARGO ?= cargo

.PHONY: all build deps test lint demo bench clean

all: build

deps:
	scripts/install-deps

build: deps
	$(CARGO) build --locked

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --all-targets --features rppal -- -D warnings

# Also installs QEMU, Debian's kernel and busybox for the hardware tier (tests/hw_vm.rs).
test: build lint
	scripts/install-deps vm
	$(CARGO) test --locked

demo: build
	scripts/demo

# Latency, join time, CPU, memory and start-up, roombox against a hand-written gst-launch
# pipeline in the same run: writes bench/results.md and bench/latency.png (a few minutes).
bench: build
	scripts/install-deps bench
	$(CARGO) bench --locked --bench room

clean:
	$(CARGO) clean
	rm -rf demo-out
