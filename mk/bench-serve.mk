# mk/bench-serve.mk - serving benchmarks of the daemon (bench/bench_serve.sh).
#
#   make bench-serve     /recommend throughput and p50/p99 next to nginx serving a static body
#                        of the same size, /recommend p99 during a retrain and swap, durable
#                        single-event ingest next to a one-row-per-transaction SQLite loop
#                        (bench/ingest_loop.c), to its bounds here (bench/ingest_bound.c) and
#                        to PostgreSQL single-row INSERT transactions (pgbench, same clients),
#                        and the daemon's resident set next to the model's bytes
#                        (bench/serve_model_bytes.c); on a model trained on ML-1M
#                        from $(DATA_DIR). Installs wrk, nginx and postgresql when missing and run as root.
#                        About 6-12 minutes on 2 cores; one "result name=... key=value" line per
#                        measurement, also in $(BUILD)/bench-serve/summary.txt.
#
# Settings are environment variables of the script (RUN_SECONDS, EPOCHS, REC_CONNS,
# INGEST_CONNS, HTTP_THREADS, INGEST_HTTP_THREADS, RETRAIN_MAX_SECONDS, PROFILE=1 for a perf
# profile of the daemon); see the script's header.

#   make bench-serve-category   step 6 alone: /recommend with a category of 1% of the catalogue
#                        beside the unfiltered /recommend (a few minutes).

.PHONY: bench-serve bench-serve-category
bench-serve-category: all $(BUILD)/bench/ingest_loop $(BUILD)/bench/ingest_bound $(BUILD)/bench/serve_model_bytes
	BUILD=$(BUILD) DATA_DIR=$(DATA_DIR) STEPS=category bench/bench_serve.sh
bench-serve: all $(BUILD)/bench/ingest_loop $(BUILD)/bench/ingest_bound $(BUILD)/bench/serve_model_bytes
	BUILD=$(BUILD) DATA_DIR=$(DATA_DIR) bench/bench_serve.sh

#   make bench-ab BIN_A=path/to/nclrec [BIN_B=$(BUILD)/nclrec]   two builds side by side on the
#                        same generated data (bench/ab_serve.sh): /recommend and POST
#                        /interactions, A then B, ROUNDS times; the B/A ratios of the medians.
#                        For a change that must not move the serving figures.
BIN_B ?= $(BUILD)/nclrec
.PHONY: bench-ab
bench-ab: all
	@test -n "$(BIN_A)" || { echo "make bench-ab needs BIN_A=path/to/another/nclrec"; exit 1; }
	bench/ab_serve.sh $(BIN_A) $(BIN_B)

#   make bench-blocked   what a /recommend pays for the catalogue's hidden items: the walk of
#                        the restricted list with a model id per item against the remembered
#                        answer (bench/blocked_ids.c), for 100, 1,000 and 10,000 hidden items.
.PHONY: bench-blocked
bench-blocked: $(BUILD)/bench/blocked_ids
	@for n in 100 1000 10000; do $(BUILD)/bench/blocked_ids $$n || exit 1; done
