/* test_prom.c - the Prometheus exposition (server/base/prom.h): counters and cumulative latency
 * buckets by route and status, the unmatched route and unknown statuses, retrain outcomes and
 * the model gauges; plus the HTTP layer's key comparison and reason phrases (server/http/http.h). */
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "base/prom.h"
#include "testhelp.h"

static int contains(const char *text, const char *line) { return strstr(text, line) != NULL; }

static void test_requests(void) {
    static prom p; /* large: not on the stack */
    const char *routes[] = {"/recommend", "/users/{id}"}, *methods[] = {"GET", "DELETE"};
    prom_init(&p, routes, methods, 2);
    prom_observe_request(&p, 0, 200, 0.003);
    prom_observe_request(&p, 0, 200, 0.0004);
    prom_observe_request(&p, 0, 400, 0.0001);
    prom_observe_request(&p, 1, 404, 7.0);    /* beyond the last bucket */
    prom_observe_request(&p, -1, 405, 0.001); /* no route matched */
    prom_observe_request(&p, 0, 299, 0.001);  /* a status with no series of its own */
    size_t len = 0;
    char *t = prom_render(&p, &len);
    CHECK(t && len == strlen(t), "render");
    if (!t) return;
    CHECK(contains(t, "nclrec_http_requests_total{route=\"/recommend\",method=\"GET\",status=\"200\"} 2\n"), "200 count");
    CHECK(contains(t, "nclrec_http_requests_total{route=\"/recommend\",method=\"GET\",status=\"400\"} 1\n"), "400 count");
    CHECK(contains(t, "nclrec_http_requests_total{route=\"/users/{id}\",method=\"DELETE\",status=\"404\"} 1\n"), "404");
    CHECK(contains(t, "nclrec_http_requests_total{route=\"unmatched\",method=\"-\",status=\"405\"} 1\n"), "unmatched");
    CHECK(contains(t, "status=\"other\"} 1\n"), "unknown status goes to other");
    const char *b = "nclrec_http_request_duration_seconds_bucket{route=\"/recommend\",method=\"GET\",status=\"200\",le=";
    char line[256];
    snprintf(line, sizeof line, "%s\"0.00025\"} 0\n", b);
    CHECK(contains(t, line), "bucket 0.00025 holds neither");
    snprintf(line, sizeof line, "%s\"0.0005\"} 1\n", b);
    CHECK(contains(t, line), "bucket 0.0005 holds the 0.4 ms request");
    snprintf(line, sizeof line, "%s\"0.0025\"} 1\n", b);
    CHECK(contains(t, line), "buckets are cumulative");
    snprintf(line, sizeof line, "%s\"0.005\"} 2\n", b);
    CHECK(contains(t, line), "bucket 0.005 holds both");
    CHECK(contains(t, "le=\"2.5\"} 0\n") && contains(t, "status=\"404\",le=\"+Inf\"} 1\n"), "+Inf counts the slow one");
    CHECK(contains(t, "nclrec_http_request_duration_seconds_sum{route=\"/recommend\",method=\"GET\",status=\"200\"} 0.0034"), "sum");
    CHECK(!contains(t, "status=\"201\""), "series that never occurred are left out");
    free(t);
}

static void test_model_and_retrain(void) {
    static prom p;
    prom_init(&p, NULL, NULL, 0);
    prom_set_model(&p, 7, 1700000000.0);
    prom_add(&p.swaps, 2);
    prom_add(&p.ingested, 40);
    prom_observe_retrain(&p, PROM_RETRAIN_SWAPPED, 12);
    prom_observe_retrain(&p, PROM_RETRAIN_REJECTED, 3);
    size_t len;
    char *t = prom_render(&p, &len);
    CHECK(t != NULL, "render");
    if (!t) return;
    CHECK(contains(t, "\nnclrec_model_version 7\n"), "version");
    CHECK(contains(t, "\nnclrec_model_trained_timestamp_seconds 1700000000\n"), "trained at");
    CHECK(contains(t, "\nnclrec_model_swaps_total 2\n"), "swaps");
    CHECK(contains(t, "\nnclrec_ingested_rows_total 40\n"), "ingested");
    CHECK(contains(t, "nclrec_retrain_runs_total{outcome=\"swapped\"} 1\n"), "swapped");
    CHECK(contains(t, "nclrec_retrain_runs_total{outcome=\"rejected\"} 1\n"), "rejected");
    CHECK(contains(t, "nclrec_retrain_runs_total{outcome=\"failed\"} 0\n"), "failed shows as 0");
    CHECK(contains(t, "nclrec_retrain_duration_seconds_bucket{le=\"5\"} 1\n"), "3 s run in the 5 s bucket");
    CHECK(contains(t, "nclrec_retrain_duration_seconds_bucket{le=\"15\"} 2\n"), "12 s run in the 15 s bucket");
    CHECK(contains(t, "# TYPE nclrec_model_age_seconds gauge\n"), "age gauge");
    free(t);
}

static void test_key_equal(void) {
    CHECK(http_key_equal("secret", "secret", 6), "equal");
    CHECK(!http_key_equal("secret", "secreT", 6), "one byte differs");
    CHECK(!http_key_equal("secret", "secret-longer", 13), "longer");
    CHECK(!http_key_equal("secret", "secre", 5), "shorter");
    CHECK(!http_key_equal("secret", "", 0), "empty");
    CHECK(http_key_equal("secret", "secretXYZ", 6), "only the given length counts");
}

static void test_reasons(void) {
    CHECK(!strcmp(http_reason(404), "Not Found"), "404");
    CHECK(!strcmp(http_reason(422), "Unprocessable Content"), "422");
    CHECK(!strcmp(http_reason(299), "Unknown"), "unknown");
    http_resp rs = {0};
    http_problem(&rs, 400, "query parameter '%s' is bad", "k");
    CHECK(rs.status == 400 && !strcmp(rs.ctype, "application/problem+json"), "problem type");
    CHECK(rs.body && strstr(rs.body, "\"detail\":\"query parameter 'k' is bad\""), "detail: %s", rs.body ? rs.body : "");
    http_problem(&rs, 400, "bad byte \xff here"); /* not UTF-8: still a valid problem document */
    CHECK(rs.body && strstr(rs.body, "bad byte ? here"), "non-UTF-8 detail: %s", rs.body ? rs.body : "");
    free(rs.body);
}

int main(void) {
    RUN(test_requests);
    RUN(test_model_and_retrain);
    RUN(test_key_equal);
    RUN(test_reasons);
    return TEST_REPORT();
}
