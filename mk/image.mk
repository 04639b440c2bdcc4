# mk/image.mk - the container image (deploy/Dockerfile, deploy/README.md).
#
#   make image         build the image as $(IMAGE_NAME): with `docker build` when a Docker
#                      engine answers, else with podman on a base image made by debootstrap
#                      (no registry needed; cached in $(BUILD)/image/)
#   make image-test    build it with podman and check it in a buildah container: its
#                      configuration, the binary and its libraries, and the daemon answering
#                      /readyz and /recommend on 127.0.0.1 (tests/image/image_test.sh).
#                      Slow (package downloads and a full build and `make test` inside the
#                      builder stage), so not part of `make test`.
#
# IMAGE_RUN_TESTS=0 skips `make test` in the builder stage.

IMAGE_NAME      ?= localhost/nclrec:latest
IMAGE_RUN_TESTS ?= 1

.PHONY: image image-test
image:
	@if command -v docker >/dev/null && docker info >/dev/null 2>&1; then \
	  echo "docker build -f deploy/Dockerfile -t $(IMAGE_NAME) ."; \
	  nice -n 10 docker build --build-arg RUN_TESTS=$(IMAGE_RUN_TESTS) -f deploy/Dockerfile -t $(IMAGE_NAME) . && \
	  docker image ls $(IMAGE_NAME); \
	else \
	  BUILD=$(BUILD) IMAGE_NAME=$(IMAGE_NAME) IMAGE_RUN_TESTS=$(IMAGE_RUN_TESTS) tests/image/image_test.sh --build-only; \
	fi

image-test:
	BUILD=$(BUILD) IMAGE_NAME=localhost/nclrec:test IMAGE_RUN_TESTS=$(IMAGE_RUN_TESTS) tests/image/image_test.sh
