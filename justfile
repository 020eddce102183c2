# Everyday recipes; each calls ./dev, which does the set-up it needs first.

# Build the host (with the aws connector built in).
build:
    ./dev setup
    cargo build --package lava-conn

# Run the whole test suite.
test:
    ./dev test

# cargo fmt --check and clippy -D warnings.
lint:
    ./dev lint

# Build the plugin components into target/plugins/.
plugins:
    ./dev plugins

# Run the benchmarks and write BENCHMARKS.md (criterion options after, e.g. `just bench --quick`).
bench *args:
    ./dev bench -- {{args}}

# Fuzz every target for SECONDS each.
fuzz seconds="300":
    ./dev fuzz {{seconds}}

# Validate the example connections and print their session names.
example:
    ./dev example

# Mutation testing of rules/ and the host's checks (slow; not in CI).
mutants:
    ./dev mutants
