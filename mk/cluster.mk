# mk/cluster.mk - the scale-out topology of deploy/compose.yaml, tested on this machine.
#
#   make test-cluster    nginx (deploy/nginx.conf) in front of one primary and two replicas on
#                        127.0.0.1, under a wrk load: writes land on the primary, new models
#                        and interactions reach both replicas within the poll interval (the
#                        lags are printed), a replica killed with -9 loses no request and
#                        rejoins caught up (tests/cluster/cluster_test.sh). About a minute.
#                        Not part of `make test` (tests/test_replica.sh covers the roles
#                        without nginx and wrk there).
#
# CLUSTER_POLL (seconds, default 0.5) is the replicas' poll interval, CLUSTER_LOAD_SECONDS
# (default 12) the length of the wrk run. nginx and wrk come from Debian's packages: installed
# when missing and root, else the apt-get line is printed. nginx runs from a temporary prefix
# on a free port, never as the system service.

CLUSTER_DEB_PACKAGES = nginx wrk curl
CLUSTER_POLL ?= 0.5
CLUSTER_LOAD_SECONDS ?= 12

.PHONY: test-cluster cluster-deps

cluster-deps:
	@sh tools/debs.sh test-cluster $(CLUSTER_DEB_PACKAGES)

test-cluster: all cluster-deps
	BUILD=$(BUILD) POLL=$(CLUSTER_POLL) LOAD_SECONDS=$(CLUSTER_LOAD_SECONDS) bash tests/cluster/cluster_test.sh
