# Sluice: two commands do all the set-up on a fresh Debian machine.
#   make demo   installs what it needs, builds, runs the demo
#   make test   installs what it needs, builds, runs every test
SWIFT ?= swift
SWIFT_FLAGS ?=

.PHONY: setup build test demo clean

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build $(SWIFT_FLAGS)

test: setup
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)

demo: build
	@bash scripts/demo.sh

clean:
	rm -rf .build
