# make bench-feedback: ML-100K trained with its ratings as weighted feedback types against the
# same data unweighted (same split, same seeds, side by side); figures in bench/RESULTS.md.
.PHONY: bench-feedback
bench: bench-feedback
bench-feedback: all
	BUILD=$(BUILD) DATA_DIR=$(DATA_DIR) bench/bench_feedback.sh
