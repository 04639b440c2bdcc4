# mk/tsan.mk - the concurrency tests under ThreadSanitizer, in a build dir of their own.
#
#   make tsan                  builds the daemon and the concurrency tests with
#                              -fsanitize=thread -O1 -g into $(TSAN_BUILD) and runs
#                              tests/soak/concurrency.sh: test_live_model (refcounted model
#                              swap), test_store (group commit), test_rec_cache (racing
#                              fills of the candidate lists), every test_concurrency_*
#                              (retrain thread against readers and writers), every feed or
#                              replica test (changefeed, replica following a primary),
#                              tests/soak/swap_load.sh (retrains and swaps while clients read,
#                              write and delete), test_api.sh (its swap under a client loop,
#                              SIGTERM during writes) and test_hostile.sh (connection churn).
#                              Fails on any failed test and on any ThreadSanitizer report.
#                              About 3 minutes after the first build.
#   make tsan TSAN_TESTS='test_store tests/soak/swap_load.sh'   only those
#
# TSAN_BUILD defaults to $(BUILD)/tsan (removed by make clean with the rest of build/).
# Reports go to $(TSAN_BUILD)/tsan-logs/ (printed by the runner); halt_on_error stops a process
# at its first report, so a race fails the test that provoked it.
#
# OpenMP and prebuilt libraries: libgomp, OpenBLAS and faiss are not instrumented. The runs set
# OMP_THREAD_LIMIT=1 (libgomp starts no threads: an uninstrumented barrier between threads
# would make every parallel loop look racy) and OPENBLAS_NUM_THREADS=1; training code still
# raises OpenBLAS's thread count through openblas_set_num_threads, and the reports that
# involve OpenBLAS's own accesses are suppressed by tests/tsan.supp, whose comments give the
# reasons. The data-parallel loops inside training are therefore not checked here; the threads
# of the daemon (HTTP workers, store writer and readers, retrain, metrics) are.

TSAN_BUILD ?= $(BUILD)/tsan
TSAN_SAN    = -fsanitize=thread -fno-omit-frame-pointer
TSAN_BINS   = test_live_model test_store test_rec_cache \
              $(basename $(notdir $(wildcard tests/test_concurrency_*.c tests/test_*feed*.c \
                                             tests/test_*replica*.c)))
TSAN_TESTS ?=
TSAN_ALL_BINS = $(sort $(TSAN_BINS) $(filter-out %.sh,$(TSAN_TESTS)))
TSAN_LOGS   = $(abspath $(TSAN_BUILD))/tsan-logs
TSAN_ENV    = OMP_THREAD_LIMIT=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive \
              TSAN_OPTIONS='halt_on_error=1 exitcode=66 second_deadlock_stack=1 \
                log_path=$(TSAN_LOGS)/tsan suppressions=$(CURDIR)/tests/tsan.supp'

.PHONY: tsan tsan-build
tsan-build: deps
	$(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) OPT=-O1 SAN='$(TSAN_SAN)' \
	  $(TSAN_BUILD)/nclrec $(TSAN_ALL_BINS:%=$(TSAN_BUILD)/tests/%)

tsan: tsan-build
	@rm -rf $(TSAN_LOGS); mkdir -p $(TSAN_LOGS)
	@$(TSAN_ENV) BUILD=$(TSAN_BUILD) SAN_LOG_DIR=$(TSAN_LOGS) tests/soak/concurrency.sh $(TSAN_TESTS)
