# The two commands of a fresh Debian machine: `make demo` and `make test`.
# Both install the Debian packages they need first (scripts/install-deps.sh, a no-op when present).
#
# SWIFTPM_FLAGS is passed to every swift build/run/test, e.g. a scratch path of your own:
#     make test SWIFTPM_FLAGS="--scratch-path .build-mine"

SWIFT ?= swift
SWIFTPM_FLAGS ?=

.PHONY: demo test deps

demo: deps
	$(SWIFT) run $(SWIFTPM_FLAGS) -c release pipebus demo

# Warnings are errors; the generated protobuf-c code must match proto/, and the drift check must
# itself be able to fail.
test: deps
	scripts/install-test-python.sh
	$(SWIFT) build $(SWIFTPM_FLAGS) --build-tests -Xswiftc -warnings-as-errors
	$(SWIFT) test $(SWIFTPM_FLAGS) --skip-build --no-parallel
	scripts/generate-proto.sh --check
	scripts/check-proto-drift-test.sh

deps:
	scripts/install-deps.sh
