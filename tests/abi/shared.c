/* Tests of the installed shape of libtsa: the shared library, its version,
 * and where BLAS calls land. Links libtsa.so only, through public headers. */
#include <dlfcn.h>
#include <pthread.h>
#include <tsa/tsa.h>

#include "harness.h"

TEST(version_matches_headers)
{
    CHECK(strcmp(tsa_version(), TSA_VERSION_STRING) == 0);
    CHECK(tsa_version_number() == TSA_VERSION_NUMBER);
    CHECK(TSA_VERSION_NUMBER == TSA_VERSION_MAJOR * 10000 + TSA_VERSION_MINOR * 100 + TSA_VERSION_PATCH);
}

TEST(blas_is_openblas)
{
    /* GSL's own CBLAS must not shadow OpenBLAS: libtsa links OpenBLAS first. */
    void *sym = dlsym(RTLD_DEFAULT, "cblas_dgemm");
    Dl_info info;
    CHECK(sym != NULL);
    CHECK(sym && dladdr(sym, &info) && info.dli_fname);
    if (sym && dladdr(sym, &info)) {
        printf("# cblas_dgemm from %s\n", info.dli_fname);
        CHECK(strstr(info.dli_fname, "openblas") != NULL || strstr(info.dli_fname, "libblas") != NULL);
        CHECK(strstr(info.dli_fname, "gslcblas") == NULL);
    }
    void *own = dlsym(RTLD_DEFAULT, "tsa_model_fit");
    CHECK(own && dladdr(own, &info) && strstr(info.dli_fname, "libtsa.so"));
}

TEST(internals_are_hidden)
{
    CHECK(dlsym(RTLD_DEFAULT, "tsa_error") == NULL);
    CHECK(dlsym(RTLD_DEFAULT, "tsa_kind_find") == NULL);
    CHECK(dlsym(RTLD_DEFAULT, "tsa_crc32") == NULL);
}

TEST(last_error_is_per_thread)
{
    tsa_model *m;
    CHECK_STATUS(tsa_model_create("no_such_kind", NULL, &m), TSA_EUNKNOWN_KIND);
    CHECK(tsa_last_status() == TSA_EUNKNOWN_KIND);
    CHECK_ERROR_MENTIONS("no_such_kind");
}

static void *other_thread(void *arg)
{
    (void)arg;
    tsa_model *m;
    tsa_model_create("other_missing_kind", NULL, &m);
    return NULL;
}

TEST(errors_do_not_cross_threads)
{
    tsa_model *m;
    tsa_model_create("first_kind", NULL, &m);
    pthread_t th;
    pthread_create(&th, NULL, other_thread, NULL);
    pthread_join(th, NULL);
    CHECK_ERROR_MENTIONS("first_kind");
}

TEST_LIST(TEST_CASE(version_matches_headers), TEST_CASE(blas_is_openblas),
          TEST_CASE(internals_are_hidden), TEST_CASE(last_error_is_per_thread),
          TEST_CASE(errors_do_not_cross_threads))
