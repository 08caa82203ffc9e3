# The project's dev commands, used alike by people, the README and .ci/run.
# Every target sets up its own venv (.venv, Python >= 3.12) the first time.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8080
# the native engine's sources: a change rebuilds the extension (release mode, by maturin)
NATIVE := $(shell find native -path native/target -prune -o -path native/fuzz -prune -o -type f \( -name '*.rs' -o -name 'Cargo.*' \) -print)
MANIFEST := --manifest-path native/Cargo.toml

.PHONY: install run enrich-sample test rust-test fuzz lint format typecheck check bench soak fuzz readme-catalog vector-inline clean

$(STAMP): pyproject.toml $(NATIVE)
	@command -v cargo >/dev/null || { echo "logenrich builds its native engine with Rust's cargo, which is not installed: install it with rustup (https://rustup.rs) or your distribution's cargo package, then run this again" >&2; exit 1; }
	@test -x $(BIN)/python || "$$(scripts/find-python)" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

## The main job: the service, with the built-in catalog, on http://127.0.0.1:$(PORT).
run: $(STAMP)
	$(BIN)/logenrich serve --port $(PORT)

## Enrich the bundled sample JupyterHub log offline (NDJSON on stdout).
enrich-sample: $(STAMP)
	$(BIN)/logenrich enrich app/samples/jupyterhub.log

## The whole test suite: the native crate (format, lints, unit and doc tests, $(FUZZ_SECONDS) s of
## fuzzing), then pytest.
test: $(STAMP) rust-test fuzz
	$(BIN)/python -m pytest

rust-test:
	cargo fmt $(MANIFEST) --all --check
	cargo fmt --manifest-path native/fuzz/Cargo.toml --check
	cargo clippy $(MANIFEST) --locked --all-targets -- -D warnings
	cargo test $(MANIFEST) --locked --quiet

## Fuzz the native decode -> enrich -> encode for FUZZ_SECONDS (cargo-fuzz on the stable
## toolchain, no sanitizer), from the corpus kept in native/fuzz/corpus; new finds go to a
## scratch directory. A crash fails the run and leaves its input in native/fuzz/artifacts.
FUZZ_SECONDS ?= 60
FUZZ_CARGO_FUZZ := 0.13.2
fuzz: $(STAMP)
	@command -v cargo-fuzz >/dev/null || cargo install --quiet --locked cargo-fuzz --version $(FUZZ_CARGO_FUZZ)
	$(BIN)/python scripts/native_table.py native/fuzz/table.json
	rm -rf native/fuzz/target/scratch-corpus && mkdir -p native/fuzz/target/scratch-corpus
	cd native/fuzz && LOGENRICH_FUZZ_CONFIG=$$PWD/table.json cargo fuzz run --sanitizer none engine \
		target/scratch-corpus corpus/engine -- -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
		-rss_limit_mb=2048 > target/fuzz.log 2>&1 || { tail -60 target/fuzz.log; exit 1; }
	@grep -E "^#[0-9]+[[:space:]]+INITED|^Done [0-9]+ runs" native/fuzz/target/fuzz.log

lint: $(STAMP)
	$(BIN)/ruff check app tests benchmarks scripts
	$(BIN)/ruff format --check app tests benchmarks scripts

format: $(STAMP)
	$(BIN)/ruff format app tests benchmarks scripts
	$(BIN)/ruff check --fix app tests benchmarks scripts
	cargo fmt $(MANIFEST) --all

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck
	$(BIN)/logenrich check

## Every benchmark, each checking its own output (the service one needs Debian's wrk).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.engine
	$(BIN)/python -m benchmarks.cli
	$(BIN)/python -m benchmarks.coverage
	$(BIN)/python -m benchmarks.vrl
	$(BIN)/python -m benchmarks.linear
	$(BIN)/python -m benchmarks.scaling
	$(BIN)/python -m benchmarks.service

## The 10-minute soak and overload run (needs Debian's wrk).
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak

## Regenerate the catalog table in README.md from the rule files.
readme-catalog: $(STAMP)
	$(BIN)/python scripts/readme_catalog.py

## Regenerate deploy/vector/inline.yaml (the exported VRL program inside a Vector config).
vector-inline: $(STAMP)
	$(BIN)/python scripts/vector_inline.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache native/target app/_native*.so
