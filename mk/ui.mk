# make bench-ui: /recommend latency with and without the page at /ui polling (bench/ui_poll.sh).
.PHONY: bench-ui
bench-ui: all
	BUILD=$(BUILD) bench/ui_poll.sh
