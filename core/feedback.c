/* feedback.c - see feedback.h. The set is small (at most 32 types), so lookups are a linear
 * scan: a hash would cost more than it saves. */
#include "feedback.h"

#include <stdio.h>
#include <string.h>

void nc_feedback_default(nc_feedback_types *ft) {
    memset(ft, 0, sizeof *ft);
    ft->n = 1;
    strcpy(ft->t[0].name, "view");
    ft->t[0].weight = 1;
}

/* Type names must survive JSON, CSV, Prometheus labels and command lines without quoting. */
int nc_feedback_name_ok(const char *s, size_t len) {
    if (len == 0 || len > NC_FEEDBACK_NAME_LEN) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

int nc_feedback_weight_of(const char *s, size_t len, uint8_t *w) {
    if (len == 0 || len > 3) return -1;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > NC_FEEDBACK_MAX_WEIGHT) return -1;
    *w = (uint8_t)v;
    return 0;
}

int nc_feedback_find(const nc_feedback_types *ft, const char *s, size_t len) {
    for (int k = 0; k < ft->n; k++)
        if (strlen(ft->t[k].name) == len && !memcmp(ft->t[k].name, s, len)) return k;
    return -1;
}

/* One "name=weight" entry of a spec, appended to *ft after its checks. */
static int parse_entry(const char *s, size_t len, nc_feedback_types *ft, nc_err *e) {
    const char *eq = memchr(s, '=', len);
    if (!eq)
        return nc_fail(e, NC_EINVAL, "feedback type '%.*s' has no '=weight' (e.g. click=1)",
                       (int)len, s);
    size_t nlen = (size_t)(eq - s), wlen = len - nlen - 1;
    if (!nc_feedback_name_ok(s, nlen))
        return nc_fail(e, NC_EINVAL, "feedback type name '%.*s' must be 1..%d characters of "
                       "[A-Za-z0-9_.-]", (int)nlen, s, NC_FEEDBACK_NAME_LEN);
    uint8_t w;
    if (nc_feedback_weight_of(eq + 1, wlen, &w))
        return nc_fail(e, NC_EINVAL, "feedback type '%.*s': weight '%.*s' is not a whole "
                       "number in 0..%d", (int)nlen, s, (int)wlen, eq + 1,
                       NC_FEEDBACK_MAX_WEIGHT);
    if (nc_feedback_find(ft, s, nlen) >= 0)
        return nc_fail(e, NC_EINVAL, "feedback type '%.*s' is given twice", (int)nlen, s);
    if (ft->n == NC_FEEDBACK_MAX_TYPES)
        return nc_fail(e, NC_EINVAL, "more than %d feedback types", NC_FEEDBACK_MAX_TYPES);
    memcpy(ft->t[ft->n].name, s, nlen);
    ft->t[ft->n].name[nlen] = '\0';
    ft->t[ft->n].weight = w;
    ft->n++;
    return NC_OK;
}

int nc_feedback_parse(const char *spec, nc_feedback_types *ft, nc_err *e) {
    nc_feedback_types out;
    memset(&out, 0, sizeof out);
    for (const char *s = spec; *s;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        int rc = parse_entry(s, len, &out, e);
        if (rc) return rc;
        s += len;
        if (comma && !*++s)
            return nc_fail(e, NC_EINVAL, "feedback types '%s' end with ','", spec);
    }
    if (out.n == 0)
        return nc_fail(e, NC_EINVAL, "no feedback types given (e.g. view=1,purchase=3)");
    *ft = out;
    return NC_OK;
}

char *nc_feedback_format(const nc_feedback_types *ft, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = '\0';
    for (int k = 0; k < ft->n && at < cap; k++) {
        int n = snprintf(buf + at, cap - at, "%s%s=%u", k ? "," : "", ft->t[k].name,
                         (unsigned)ft->t[k].weight);
        if (n < 0) break;
        at += (size_t)n;
    }
    return buf;
}
