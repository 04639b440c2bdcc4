/* fuzz_util.h - helpers shared by the libFuzzer harnesses in tests/fuzz/.
 *
 * The loaders under test take a path, not a buffer, so each input is handed over as an
 * anonymous in-memory file (memfd_create) opened again through /proc/self/fd/N: no disk I/O per
 * execution, and nothing is left behind when a run crashes. A harness reports a broken contract
 * with FUZZ_ASSERT, which prints the condition and aborts, so libFuzzer (and the corpus replay
 * in tests/test_fuzz_replay_*.c) record it like a memory error. */
#ifndef NCLREC_FUZZ_UTIL_H
#define NCLREC_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_ASSERT(cond, ...)                                                             \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz contract broken: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* An anonymous file holding a[0..na) followed by b[0..nb) (either may be empty), and its
 * /proc/self/fd path in path[cap]. Returns the descriptor, which the caller closes; -1 (after
 * a message) if the kernel refuses, which the harness treats as "skip this input". */
static inline int fuzz_memfile2(const void *a, size_t na, const void *b, size_t nb, char *path,
                                size_t cap) {
    int fd = memfd_create("nclrec-fuzz", MFD_CLOEXEC);
    if (fd < 0) {
        perror("memfd_create");
        return -1;
    }
    const void *part[2] = {a, b};
    size_t len[2] = {na, nb};
    for (int k = 0; k < 2; k++)
        for (size_t off = 0; off < len[k];) {
            ssize_t w = write(fd, (const char *)part[k] + off, len[k] - off);
            if (w <= 0) {
                perror("write to memfd");
                close(fd);
                return -1;
            }
            off += (size_t)w;
        }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

/* fuzz_memfile2 with a single part. */
static inline int fuzz_memfile(const void *data, size_t n, char *path, size_t cap) {
    return fuzz_memfile2(data, n, NULL, 0, path, cap);
}

#endif
