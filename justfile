# runner's everyday commands. `just` lists them.

default:
    @just --list

# Run an experiment in release mode: just run experiments/xor.toml
run spec *args:
    cargo run --release --quiet -- run {{spec}} {{args}}

# Validate a spec and print its layer table
check spec:
    cargo run --release --quiet -- check {{spec}}

# The test suite (the README's test command)
test:
    cargo test --release

# Format, lint and test, as CI does
ci:
    bash .ci/run

# Benchmarks beside their references (numpy for the diamond loop, PyTorch for the CNN, numpy's
# sgemm for the ceiling), then a table against issue 13's goals: just bench [avx2]
bench mode="native":
    bash bench/all.sh {{mode}}

# The AVX-512 paths' unit tests and every golden with RUNNER_CPU=avx512, in an emulated
# Skylake-X (Bochs), for a machine without AVX-512: root, Debian 12, about half an hour
avx512-emulated:
    bash scripts/avx512-emulated.sh

# Every course experiment, one after another
experiments:
    for f in experiments/*.toml; do cargo run --release --quiet -- run "$f" --quiet; done

# The CNN on MNIST against PyTorch (skipped where torch is missing): just bench-cnn [bn]
bench-cnn variant="plain":
    bash bench/mnist_cnn.sh {{variant}}

# Rewrite the golden results (tests/golden/) on purpose, then check every CPU path against them
golden:
    RUNNER_GOLDEN=regenerate cargo test --release --test main golden:: -- --nocapture

# The diamond sweep as a Slurm job array (sbatch and squeue on PATH, a results folder the nodes share; README "Sweeps on Slurm"): just sweep-slurm [--partition P --time 10]
sweep-slurm *args:
    cargo run --release --quiet -- sweep experiments/sweeps/diamond_lr.toml --executor slurm {{args}}

# The shipped sweeps (diamond learning rate × width; the MNIST optimizer comparison): just sweep [-j 2]
sweep *args:
    cargo run --release --quiet -- sweep experiments/sweeps/diamond_lr.toml {{args}}
    cargo run --release --quiet -- sweep experiments/sweeps/mnist_optimizers.toml {{args}}
