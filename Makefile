# The commands of a fresh Debian machine: `make demo`, `make test` and `make ci` (what CI runs).
# Both install the Debian packages they need first (scripts/install-deps.sh, a no-op when present).
#
# SWIFTPM_FLAGS is passed to every swift build/run/test, e.g. a scratch path of your own:
#     make test SWIFTPM_FLAGS="--scratch-path .build-mine"

SWIFT ?= swift
SWIFTPM_FLAGS ?=
# The debug build of `make test`, which `make soak` reuses: built with other flags, every module
# of the package would be compiled again.
BUILD = $(SWIFT) build $(SWIFTPM_FLAGS) --build-tests -Xswiftc -warnings-as-errors

.PHONY: demo test ci fuzz sanitize soak deps

demo: deps
	$(SWIFT) run $(SWIFTPM_FLAGS) -c release pipebus demo

# Warnings are errors; the generated protobuf-c and Swift code must match proto/, the drift check
# must itself be able to fail, and the Swift generator passes its golden-file tests. The alert
# rules pass promtool's checks and their unit tests.
# The Python client's suite (clients/python/tests, with its own drift check of the _pb2 modules)
# runs against sidecars of the build just made.
test: deps
	scripts/install-test-python.sh
	$(BUILD)
	$(SWIFT) test $(SWIFTPM_FLAGS) --skip-build --no-parallel
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts.test.yml
	scripts/generate-proto.sh --check
	scripts/check-proto-drift-test.sh
	$(SWIFT) test --package-path tools/protoc-gen-pipebus
	PIPEBUS_EXECUTABLE="$$($(SWIFT) build $(SWIFTPM_FLAGS) --show-bin-path)/pipebus" PYTHONPATH=clients/python \
		$${PIPEBUS_TEST_VENV:-.build/test-venv}/bin/python -m pytest -q -p no:cacheprovider clients/python/tests

# What CI runs (.ci/run): the tests, then the hardening checks of issue #7 with CI-sized budgets.
# Separate scratch folders (fuzz/.build, .build-tsan, .build-asan), so each build is incremental.
ci: test fuzz sanitize soak

# Every fuzz target for 30 s from the committed corpus (fails on a crash, a broken invariant, a
# leak or memory growth); `scripts/fuzz.sh 600` for a longer hunt.
fuzz: deps
	scripts/fuzz.sh 30

# The concurrency- and process-heavy suites under ThreadSanitizer, then AddressSanitizer.
sanitize: deps
	scripts/sanitize.sh thread
	scripts/sanitize.sh address

# A one-minute soak (scripts/soak.sh 10 for the full one).
soak: deps
	$(BUILD)
	PIPEBUS_EXECUTABLE="$$($(SWIFT) build $(SWIFTPM_FLAGS) --show-bin-path)/pipebus" scripts/soak.sh 1

deps:
	scripts/install-deps.sh
