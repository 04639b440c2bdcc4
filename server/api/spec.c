/* spec.c - the OpenAPI document (openapi.yaml at the top of the source tree) compiled into the
 * binary, so GET /openapi.yaml needs no file at run time and always matches the build. The
 * assembler's .incbin reads the file relative to the directory the compiler runs in (the
 * top of the tree, where make runs). */
#include "routes.h"

__asm__(".section .rodata\n"
        ".global nclrec_openapi_start\n"
        ".global nclrec_openapi_end\n"
        ".balign 16\n"
        "nclrec_openapi_start:\n"
        ".incbin \"openapi.yaml\"\n"
        "nclrec_openapi_end:\n"
        ".byte 0\n"
        ".previous\n");

extern const char nclrec_openapi_start[], nclrec_openapi_end[];

const char *routes_openapi(size_t *len) {
    *len = (size_t)(nclrec_openapi_end - nclrec_openapi_start);
    return nclrec_openapi_start;
}
