/* faiss_shim.cpp - see faiss_shim.h. The project's only C++: a thin extern "C" layer over the
 * faiss C++ API, in the style of faiss's own c_api (try { ... } catch -> error code), because
 * Debian ships libfaiss.a and its headers but no compiled C API. Nothing here outlives a call
 * except the IndexFlatIP behind ncf_flat. */
extern "C" {
#include "common.h"
}
#include "faiss_shim.h"

#include <cstring>
#include <exception>
#include <new>
#include <vector>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/utils/distances.h>

struct ncf_flat {
    faiss::IndexFlatIP index;
    explicit ncf_flat(int32_t d) : index(d) {}
};

/* Every entry point ends in this, so a C caller sees an error code and faiss's message instead
 * of an exception unwinding through C frames (undefined behaviour). */
#define NCF_CATCH(e, call)                                                                   \
    catch (const std::bad_alloc &) {                                                         \
        return nc_fail(e, NC_ENOMEM, "faiss %s: out of memory", call);                     \
    }                                                                                        \
    catch (const faiss::FaissException &ex) {                                                \
        return nc_fail(e, NC_EFAISS, "faiss %s: %s", call, ex.msg.c_str());                 \
    }                                                                                        \
    catch (const std::exception &ex) {                                                       \
        return nc_fail(e, NC_EFAISS, "faiss %s: %s", call, ex.what());                      \
    }                                                                                        \
    catch (...) {                                                                            \
        return nc_fail(e, NC_EFAISS, "faiss %s: unknown C++ exception", call);              \
    }

/* Parameters as faiss's Python Kmeans sets them; min_points_per_centroid = 0 only silences the
 * stderr warning, which a daemon's log should not receive unannounced. */
extern "C" int ncf_kmeans(const float *x, int64_t n, int32_t d, int32_t k, int32_t niter,
                          int32_t seed, int32_t max_points_per_centroid, float *centroids,
                          int64_t *assign, nc_err *e) {
    try {
        faiss::ClusteringParameters cp;
        cp.niter = niter;
        cp.nredo = 1;
        cp.verbose = false;
        cp.spherical = false;
        cp.seed = seed;
        cp.max_points_per_centroid = max_points_per_centroid;
        cp.min_points_per_centroid = 0;
        faiss::Clustering clus(d, k, cp);
        faiss::IndexFlatL2 index(d);
        clus.train(n, x, index);
        if (clus.centroids.size() != (size_t)k * (size_t)d)
            return nc_fail(e, NC_EINTERNAL, "faiss k-means returned %zu centroid floats, want %zu",
                           clus.centroids.size(), (size_t)k * (size_t)d);
        std::memcpy(centroids, clus.centroids.data(), sizeof(float) * (size_t)k * (size_t)d);
        /* the index now holds the final centroids: assign as Python's index.search(x, 1) */
        std::vector<float> dist((size_t)n);
        index.search(n, x, 1, dist.data(), assign);
        return NC_OK;
    }
    NCF_CATCH(e, "k-means")
}

/* The wrapper struct lets C hold a pointer to a C++ object it cannot name. */
extern "C" int ncf_flat_ip_new(int32_t d, ncf_flat **out, nc_err *e) {
    *out = nullptr;
    try {
        *out = new ncf_flat(d);
        return NC_OK;
    }
    NCF_CATCH(e, "IndexFlatIP")
}

extern "C" void ncf_flat_free(ncf_flat *f) { delete f; }

/* faiss copies the rows (and may throw bad_alloc on a large catalogue). */
extern "C" int ncf_flat_add(ncf_flat *f, int64_t n, const float *x, nc_err *e) {
    try {
        f->index.add(n, x);
        return NC_OK;
    }
    NCF_CATCH(e, "IndexFlatIP add")
}

extern "C" int64_t ncf_flat_ntotal(const ncf_flat *f) { return f->index.ntotal; }

extern "C" const float *ncf_flat_data(const ncf_flat *f) { return f->index.get_xb(); }

extern "C" int ncf_flat_search(const ncf_flat *f, int64_t nq, const float *q, int64_t k,
                               float *scores, int64_t *ids, nc_err *e) {
    try {
        f->index.search(nq, q, k, scores, ids);
        return NC_OK;
    }
    NCF_CATCH(e, "IndexFlatIP search")
}

extern "C" int ncf_inner_products(float *ip, const float *x, const float *y, size_t d, size_t ny,
                                  nc_err *e) {
    try {
        faiss::fvec_inner_products_ny(ip, x, y, d, ny);
        return NC_OK;
    }
    NCF_CATCH(e, "inner products")
}
