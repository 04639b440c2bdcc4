/* item_doc.c - see item_doc.h. */
#include "item_doc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store.h"

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (no time zone, no libc
 * state: timegm is not C11). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dm[m - 1] + (m == 2 && leap);
}

/* Reads exactly n digits at *p into *v, advancing *p. */
static int digits(const char **p, int n, int *v) {
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9') return -1;
        *v = *v * 10 + (**p - '0');
    }
    return 0;
}

/* Strict: every separator and range checked, so "2026-13-40" or "tomorrow" is refused. */
int item_time_parse(const char *s, int64_t *out) {
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d)) return -1;
    if ((*p != 'T' && *p != 't') || (p++, digits(&p, 2, &h)) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return -1;
    if (*p == '.') {
        const char *f = ++p;
        while (*p >= '0' && *p <= '9') p++;
        if (p == f) return -1;
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z') p++;
    else if (*p == '+' || *p == '-') {
        sign = *p++ == '+' ? 1 : -1;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59) return -1;
    } else return -1;
    if (*p || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60) return -1;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec);
    t -= sign * (oh * 3600 + om * 60);
    if (t < 0 || t > STORE_TS_MAX) return -1;
    *out = t;
    return 0;
}

static int check_categories(const json_t *v, nc_err *e) {
    if (!json_is_array(v)) return nc_fail(e, NC_EINVAL, "categories: must be an array of strings");
    if (json_array_size(v) > ITEM_MAX_CATEGORIES)
        return nc_fail(e, NC_EINVAL, "categories: %zu given; at most %d", json_array_size(v), ITEM_MAX_CATEGORIES);
    size_t i;
    json_t *c;
    json_array_foreach(v, i, c) {
        nc_err ce;
        if (!json_is_string(c)) return nc_fail(e, NC_EINVAL, "categories[%zu]: must be a string", i);
        if (store_check_id("category", json_string_value(c), &ce) != NC_OK)
            return nc_fail(e, NC_EINVAL, "categories[%zu]: %s", i, ce.msg);
    }
    return NC_OK;
}

static int check_labels(const json_t *v, nc_err *e) {
    if (!json_is_object(v)) return nc_fail(e, NC_EINVAL, "labels: must be an object");
    if (json_object_size(v) > ITEM_MAX_LABELS)
        return nc_fail(e, NC_EINVAL, "labels: %zu given; at most %d", json_object_size(v), ITEM_MAX_LABELS);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        size_t kl = strlen(k);
        if (kl == 0 || kl > 64) return nc_fail(e, NC_EINVAL, "labels: a name must have 1 to 64 bytes, got %zu", kl);
        if (!json_is_string(x) && !json_is_number(x) && !json_is_boolean(x))
            return nc_fail(e, NC_EINVAL, "labels.%.64s: must be a string, a number or a boolean", k);
    }
    return NC_OK;
}

int item_doc_check(const json_t *body, nc_err *e) {
    if (!json_is_object(body))
        return nc_fail(e, NC_EINVAL, "the item must be an object with categories, labels, hidden, available_from");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        int64_t t;
        int rc = NC_OK;
        if (!strcmp(k, "categories")) rc = check_categories(v, e);
        else if (!strcmp(k, "labels")) rc = check_labels(v, e);
        else if (!strcmp(k, "hidden")) rc = json_is_boolean(v) ? NC_OK : nc_fail(e, NC_EINVAL, "hidden: must be true or false");
        else if (!strcmp(k, "available_from"))
            rc = json_is_null(v) || (json_is_string(v) && item_time_parse(json_string_value(v), &t) == 0)
                     ? NC_OK
                     : nc_fail(e, NC_EINVAL, "available_from: must be an RFC 3339 date-time (2026-01-02T03:04:05Z) "
                               "from 1970 to 9999, or null");
        else if (strcmp(k, "id"))
            rc = nc_fail(e, NC_EINVAL, "unknown field '%.64s' (expected categories, labels, hidden, available_from)", k);
        if (rc) return rc;
    }
    return NC_OK;
}

/* The categories without repeats, in the order given. */
static json_t *unique_categories(const json_t *v) {
    json_t *out = json_array();
    size_t i, j;
    json_t *c, *d;
    json_array_foreach(v, i, c) {
        int dup = 0;
        json_array_foreach(out, j, d) dup |= json_equal(c, d);
        if (out && !dup) json_array_append(out, c);
    }
    return out;
}

json_t *item_doc_merge(const json_t *old, const json_t *body, int patch) {
    json_t *doc = json_pack("{s:[], s:{}, s:b, s:n}", "categories", "labels", "hidden", 0, "available_from");
    if (!doc) return NULL;
    if (old && patch) json_object_update_existing(doc, (json_t *)old);
    json_t *v;
    if ((v = json_object_get(body, "categories"))) json_object_set_new(doc, "categories", unique_categories(v));
    if ((v = json_object_get(body, "labels"))) json_object_set_new(doc, "labels", json_deep_copy(v));
    if ((v = json_object_get(body, "hidden"))) json_object_set(doc, "hidden", v);
    if ((v = json_object_get(body, "available_from"))) {
        int64_t t;
        char buf[40];
        if (json_is_string(v) && item_time_parse(json_string_value(v), &t) == 0) {
            nc_format_utc(t, buf, sizeof buf);
            json_object_set_new(doc, "available_from", json_string(buf));
        } else {
            json_object_set_new(doc, "available_from", json_null());
        }
    }
    if (!json_is_array(json_object_get(doc, "categories")) || !json_is_object(json_object_get(doc, "labels"))) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

void item_doc_rules(const json_t *doc, item_rules *out) {
    int64_t t;
    const char *af = json_string_value(json_object_get(doc, "available_from"));
    out->hidden = json_is_true(json_object_get(doc, "hidden"));
    out->available_from = af && item_time_parse(af, &t) == 0 ? t : ITEM_NO_TIME;
}
