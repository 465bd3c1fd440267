// ThreadSanitizer builds only (scripts/sanitize.sh thread): makes Swift's Synchronization.Mutex
// visible to TSan. Nothing is compiled otherwise.
//
// Why: on Linux, Mutex takes a contended lock and hands it over inside the kernel (FUTEX_LOCK_PI /
// FUTEX_UNLOCK_PI, in _MutexHandle._lockSlow / _unlockSlow of the uninstrumented
// libswiftSynchronization.so), so TSan sees no happens-before edge between two critical sections
// and reports every contended Mutex as a race (Swift 6.3.1; 15 lines of two threads incrementing
// a counter under Mutex reproduce it, and this file makes them clean). Suppressing the reports
// would hide real races in the same functions; annotating the lock does not.
//
// How: these definitions, linked into every executable and test bundle through CPipeBusShim,
// take the place of the library's slow paths for calls from pipebus's code (withLock is inlined
// there); each calls the library's own function (dlsym RTLD_NEXT) and tells TSan that the lock
// word was acquired or released. The fast paths are atomics TSan already sees.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && defined(__linux__) && defined(__x86_64__)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>

void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

// Swift methods take `self` in the swiftself register: clang's swift_context parameter.
#define SWIFTCALL __attribute__((swiftcall))
#define SWIFT_SELF __attribute__((swift_context))
#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"

typedef SWIFTCALL void (*LockSlow)(uint32_t, SWIFT_SELF void *);
typedef SWIFTCALL void (*UnlockSlow)(SWIFT_SELF void *);
typedef SWIFTCALL bool (*TryLockSlow)(SWIFT_SELF void *);

static void *realLockSlow, *realUnlockSlow, *realTryLockSlow;

static void *resolve(void **cache, const char *name) {
    void *function = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (!function) {
        function = dlsym(RTLD_NEXT, name);
        __atomic_store_n(cache, function, __ATOMIC_RELEASE);
    }
    return function;
}

SWIFTCALL void pipebus_tsan_lock_slow(uint32_t owner, SWIFT_SELF void *handle) __asm__(LOCK_SLOW);
SWIFTCALL void pipebus_tsan_lock_slow(uint32_t owner, SWIFT_SELF void *handle) {
    ((LockSlow)resolve(&realLockSlow, LOCK_SLOW))(owner, handle);
    __tsan_acquire(handle);
}

SWIFTCALL void pipebus_tsan_unlock_slow(SWIFT_SELF void *handle) __asm__(UNLOCK_SLOW);
SWIFTCALL void pipebus_tsan_unlock_slow(SWIFT_SELF void *handle) {
    __tsan_release(handle);
    ((UnlockSlow)resolve(&realUnlockSlow, UNLOCK_SLOW))(handle);
}

SWIFTCALL bool pipebus_tsan_try_lock_slow(SWIFT_SELF void *handle) __asm__(TRY_LOCK_SLOW);
SWIFTCALL bool pipebus_tsan_try_lock_slow(SWIFT_SELF void *handle) {
    bool locked = ((TryLockSlow)resolve(&realTryLockSlow, TRY_LOCK_SLOW))(handle);
    if (locked) __tsan_acquire(handle);
    return locked;
}
#endif
#endif

// A hand-off through a continuation, made visible to TSan (see CPipeBusShim.h). Swift 6.3.1's
// runtime shows TSan no happens-before edge from `UnsafeContinuation.resume` to the resumed task:
// a task that reads what the resuming thread wrote is reported as a race (6 lines reproduce it).
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PIPEBUS_TSAN 1
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#endif
#endif

void pipebus_tsan_release(const void *object) {
#ifdef PIPEBUS_TSAN
    __tsan_release((void *)object);
#else
    (void)object;
#endif
}

void pipebus_tsan_acquire(const void *object) {
#ifdef PIPEBUS_TSAN
    __tsan_acquire((void *)object);
#else
    (void)object;
#endif
}
