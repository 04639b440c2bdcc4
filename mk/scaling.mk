# mk/scaling.mk - how training grows with the data (bench/scaling.sh, docs/scaling.md).
#
#   make bench-scaling   synthetic data at several sizes (users + items; interactions per
#                        user), 2 training epochs each with every term on: seconds per part,
#                        FLOPs and peak RSS per point, least-squares fits of the cost model
#                        with residuals; then seconds per ML-1M epoch with the exact and the
#                        sampled structure term (--ssl-negatives). Results under
#                        $(BUILD)/scaling/ (points.tsv, ml1m.tsv, fits.txt). 6.5 minutes on
#                        the 2 loaded cores of docs/scaling.md; points already measured are
#                        kept unless FORCE=1 (SCALING_PARTS=fits only redoes the fits).
#
# SCALING_PARTS="catalogue interactions ml1m-epoch quality" adds the ML-1M quality runs of the
# sampled term (45 epochs each, 8-25 minutes there, NEGATIVES="1024 256"; add 0 for the exact
# term). Runs take the niceness of make (`nice -n 10 make bench-scaling`). Other knobs (USERS,
# PER_USERS, EPOCHS, THREADS, NEGATIVES, QUALITY_EPOCHS, TIMEOUT) are read by bench/scaling.sh
# from the environment or the make command line.

SCALING_PARTS ?= catalogue interactions ml1m-epoch

.PHONY: bench-scaling
bench-scaling: all
	DATA_DIR=$(DATA_DIR) OUT=$(BUILD)/data bench/prepare_data.sh
	BUILD=$(BUILD) PARTS="$(SCALING_PARTS)" bench/scaling.sh

# make bench-scale: NCL at a real shop's size (issue 14; docs/scaling.md, section 7):
# the structure term's estimators against the exact term on ML-1M embeddings, quality of each
# term on ML-1M and ML-100K, validation on a user sample (ML-100K), the fast path against the
# exact term at 20,000 users, a cold training to its plateau, its continuation with the exact
# term, the prototype term's earlier warm-up and a warm retrain at 100,000 users, a batch's
# neighbourhood, one epoch at 1,000,000 users. Hours on 2 cores; SCALE_PARTS picks parts
# (bench/scale.sh).
SCALE_PARTS ?= estimator ml1m ml100k evalusers ml100k_warm ml1m_warm mid shop estimator_shop \
               shop_exact shop_proto hops warm big

.PHONY: bench-scale
bench-scale: all $(BUILD)/bench/ssl_estimator $(BUILD)/bench/batch_hops
	DATA_DIR=$(DATA_DIR) OUT=$(BUILD)/data bench/prepare_data.sh
	BUILD=$(BUILD) DATA=$(BUILD)/data PARTS="$(SCALE_PARTS)" bench/scale.sh
