/* Prints the size of every public struct, one "sizeof NAME BYTES" line each,
 * for tests/abi/check_baseline.py. Callers allocate these structs (or read
 * fields of ones libtsa allocates), so a change in size under the same
 * soname breaks programs built against the older headers. */
#include <stdio.h>

#include <tsa/tsa.h>

#define SIZE(type) printf("sizeof %s %zu\n", #type, sizeof(type))

int main(void)
{
    SIZE(tsa_series);
    SIZE(tsa_fit_options);
    SIZE(tsa_progress);
    SIZE(tsa_forecast);
    SIZE(tsa_detection);
    SIZE(tsa_generate_options);
    SIZE(tsa_generated);
    SIZE(tsa_classification);
    SIZE(tsa_components);
    return 0;
}
