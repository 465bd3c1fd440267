// Small C helpers for what Glibc's Swift overlay does not expose.
#ifndef PIPEBUS_SHIM_H
#define PIPEBUS_SHIM_H

#include <stdint.h>

/// Pins the calling thread (and the threads it creates afterwards) to the given CPUs.
/// Returns 0 on success, or an errno value.
int pipebus_pin_to_cpus(const int *cpus, int count);

/// The number of CPUs the calling thread may run on, or -1 with errno set.
int pipebus_allowed_cpu_count(void);

/// F_SETPIPE_SZ / F_GETPIPE_SZ, which Glibc's overlay does not name.
int pipebus_set_pipe_size(int fd, int size);
int pipebus_get_pipe_size(int fd);

/// fcntl(fd, F_GETFL) / F_SETFL with O_NONBLOCK on or off; fcntl is variadic in C.
int pipebus_set_nonblocking(int fd, int on);

/// Names the calling thread (at most 15 bytes are kept), for debuggers and `top -H`.
void pipebus_set_thread_name(const char *name);

/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC): the wake-up descriptor of a connection's poll loop.
int pipebus_eventfd(void);

/// flock(fd, LOCK_EX | LOCK_NB); Swift sees `flock` as the struct, not the function.
int pipebus_try_lock(int fd);

/// renameat2(from, to, RENAME_NOREPLACE): fails with EEXIST instead of replacing `to`.
/// Returns 0 or -1 with errno set.
int pipebus_rename_noreplace(const char *from, const char *to);

/// renameat2(a, b, RENAME_EXCHANGE): swaps the two paths atomically; both must exist (ENOENT
/// otherwise). The spool uses it to replace a task file only if it has not been moved away.
/// Returns 0 or -1 with errno set (EINVAL where the file system cannot exchange).
int pipebus_rename_exchange(const char *a, const char *b);

// statfs(2)'s f_type (the file system's magic number) of path; -1 with errno set on failure.
long pipebus_filesystem_type(const char *path);

/// The signal that interrupts a blocking FIFO read (a real-time signal with a no-op handler
/// installed without SA_RESTART, so the read returns EINTR), installed on first use; 0 when
/// the process already handles that signal itself (blocking reads are then not used).
int pipebus_wake_signal(void);

/// Makes the calling thread interruptible by the wake signal (unblocks it once per thread:
/// dispatch's workers block most signals) and returns its kernel thread id (cached per
/// thread), or -1 when blocking reads are not available.
int pipebus_prepare_wakeable_thread(void);

/// Sends the wake signal to thread `tid` of this process (tgkill, so a thread that has ended
/// gets ESRCH rather than a stale handle). Returns 0 or an errno value.
int pipebus_wake_thread(int tid);

/// A spin-wait hint to the CPU (x86 `pause`, Arm `yield`): a spinning reader between two reads
/// on its own vCPU, where `sched_yield` would hand a time slice to whatever else is runnable.
static inline void pipebus_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// The calling thread's involuntary context switches so far (getrusage RUSAGE_THREAD's
/// ru_nivcsw): a `sched_yield` that let another task run counts one. -1 if unavailable.
long pipebus_thread_involuntary_switches(void);

/// Records `value` in a latency histogram laid out as `bound_count + 3` counters: one per bucket
/// (`value <= bounds[i]`, the first that holds), a +Inf bucket, then the sum and the count.
/// Lock-free (relaxed atomic adds): any thread may record while another reads.
void pipebus_histogram_record(uint64_t *cells, const uint64_t *bounds, int bound_count, uint64_t value);

/// One counter of such a histogram, read atomically.
uint64_t pipebus_histogram_load(const uint64_t *cells, int index);

/// mallopt(M_ARENA_MAX, count): glibc makes at most `count` heaps from now on (its default is 8
/// per CPU). Returns 0, or -1 when refused or when the C library is not glibc.
int pipebus_limit_malloc_arenas(int count);

/// Returns the free memory of every malloc heap to the system (glibc `malloc_trim(0)`); 1 when
/// some was returned. A no-op elsewhere.
int pipebus_release_free_memory(void);

/// Under ThreadSanitizer, a release of `object` before a continuation is resumed and the matching
/// acquire in the resumed task: what the resuming thread did then happens before what the task
/// does, as it does at run time. No-ops in any other build.
void pipebus_tsan_release(const void *object);
void pipebus_tsan_acquire(const void *object);

/// Starts a supervised worker: `file` searched in PATH (execvpe) with `argv` and `envp`, in a
/// process group of its own, with default signal dispositions and an empty signal mask, and no
/// descriptor of the caller but 0, 1 and 2. With `death_signal` > 0 the worker gets that signal
/// when the calling THREAD ends (PR_SET_PDEATHSIG), so call it from a thread that lives as long
/// as the worker matters. Returns 0 and the pid, or the errno of the fork or of the exec.
int pipebus_spawn_worker(const char *file, char *const argv[], char *const envp[], int death_signal, int *pid_out);

/// 16 KiB of zeros, for growing byte buffers with one memcpy (`PIPEBUS_ZERO_PAGE_SIZE`).
const void *pipebus_zero_page(void);
#define PIPEBUS_ZERO_PAGE_SIZE 16384

#endif
