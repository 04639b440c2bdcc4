# mk/soak.mk - a bounded soak of the real daemon (tests/soak/soak.sh).
#
#   make soak                      SOAK_SECONDS (default 600) of mixed reads and writes from a
#                                  few bounded client loops against `nclrec serve` on 127.0.0.1
#                                  (port 0, a temporary data dir, a small synthetic model), a
#                                  retrain every 30 s, a sample every 10 s (RSS, WAL size,
#                                  errors, model version); fails on any non-2xx answer, too few
#                                  swaps, RSS growth after warm-up, or an unbounded WAL. Prints
#                                  the sample table and a summary line; both are kept in
#                                  $(BUILD)/soak/ (samples.tsv, summary.txt).
#   make soak SOAK_SECONDS=120     a shorter run
#
# The criteria and the other knobs (SOAK_CLIENTS, SOAK_RSS_TOL, SOAK_WAL_CAP_MB, ...) are
# described at the top of tests/soak/soak.sh; set them in the environment. Only curl is
# needed (one of the Makefile's DEB_PACKAGES).

SOAK_SECONDS ?= 600

.PHONY: soak
soak: deps $(BUILD)/nclrec
	SOAK_SECONDS=$(SOAK_SECONDS) BUILD=$(BUILD) tests/soak/soak.sh
