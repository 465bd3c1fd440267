#define _GNU_SOURCE
#include "CPipeBusShim.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/resource.h>

int pipebus_pin_to_cpus(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return EINVAL;
        CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : errno;
}

int pipebus_allowed_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    return CPU_COUNT(&set);
}

int pipebus_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }
int pipebus_get_pipe_size(int fd) { return fcntl(fd, F_GETPIPE_SZ); }

int pipebus_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags);
}

void pipebus_set_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof(truncated) - 1);
    truncated[sizeof(truncated) - 1] = 0;
    pthread_setname_np(pthread_self(), truncated);
}

int pipebus_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int pipebus_try_lock(int fd) { return flock(fd, LOCK_EX | LOCK_NB); }

// ---- Interrupting a blocking read (see FIFOConnectionIO's blocking reads) ----

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

static int wake_signal_number = 0;
static pthread_once_t wake_signal_once = PTHREAD_ONCE_INIT;
static __thread pid_t cached_tid = 0;

static void wake_signal_handler(int signal_number) { (void)signal_number; }

static void install_wake_signal(void) {
    int candidate = SIGRTMAX - 3;
    struct sigaction current;
    if (sigaction(candidate, NULL, &current) != 0) return;
    // Someone else's signal: leave it alone (blocking reads then stay off).
    if (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN) return;
    if (current.sa_flags & SA_SIGINFO) return;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = wake_signal_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: the blocked read must return EINTR
    if (sigaction(candidate, &action, NULL) == 0) wake_signal_number = candidate;
}

int pipebus_wake_signal(void) {
    pthread_once(&wake_signal_once, install_wake_signal);
    return wake_signal_number;
}

int pipebus_prepare_wakeable_thread(void) {
    if (cached_tid != 0) return cached_tid;
    int signal_number = pipebus_wake_signal();
    if (signal_number == 0) return -1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal_number);
    // Dispatch's worker threads block most signals; this one must get through.
    if (pthread_sigmask(SIG_UNBLOCK, &set, NULL) != 0) return -1;
    cached_tid = (pid_t)syscall(SYS_gettid);
    return cached_tid;
}

int pipebus_wake_thread(int tid) {
    if (wake_signal_number == 0 || tid <= 0) return EINVAL;
    return syscall(SYS_tgkill, getpid(), tid, wake_signal_number) == 0 ? 0 : errno;
}

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int pipebus_release_free_memory(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

int pipebus_limit_malloc_arenas(int count) {
#if defined(__GLIBC__)
    return mallopt(M_ARENA_MAX, count) == 1 ? 0 : -1;
#else
    (void)count;
    return -1;
#endif
}

long pipebus_thread_involuntary_switches(void) {
    struct rusage usage;
    if (getrusage(RUSAGE_THREAD, &usage) != 0) return -1;
    return usage.ru_nivcsw;
}
