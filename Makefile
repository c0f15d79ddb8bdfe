# roombox: `make demo` shows two rooms in a call; `make test` installs what it needs and runs
# every test. See README.md.

CARGO ?= cargo

.PHONY: all build deps test lint demo clean

all: build

deps:
	scripts/install-deps

build: deps
	$(CARGO) build --locked

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

test: build lint
	$(CARGO) test --locked

demo: build
	scripts/demo

clean:
	$(CARGO) clean
	rm -rf demo-out
