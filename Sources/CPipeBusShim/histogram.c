// The write-latency histogram's cells: counted here, in one flat array of 64-bit counters,
// because every frame write records into it. Kept in C so that a record is one call, a short
// bucket search and three relaxed atomic adds on adjacent words, with no reference counting or
// pointer chasing (a Swift array of atomic cells cost ~50 ns a write, most of it cache misses
// after a context switch).
#include "CPipeBusShim.h"

void pipebus_histogram_record(uint64_t *cells, const uint64_t *bounds, int bound_count, uint64_t value) {
    int index = 0;
    while (index < bound_count && value > bounds[index]) index++;
    __atomic_fetch_add(&cells[index], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&cells[bound_count + 1], value, __ATOMIC_RELAXED);
    __atomic_fetch_add(&cells[bound_count + 2], 1, __ATOMIC_RELAXED);
}

uint64_t pipebus_histogram_load(const uint64_t *cells, int index) {
    return __atomic_load_n(&cells[index], __ATOMIC_RELAXED);
}

static const unsigned char zero_page[16384];

const void *pipebus_zero_page(void) { return zero_page; }
