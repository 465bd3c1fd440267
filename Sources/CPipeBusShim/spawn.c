// Starting a supervised worker: what posix_spawn cannot do (PR_SET_PDEATHSIG) and what it does
// not do by default (close every descriptor but stdio).
#define _GNU_SOURCE
#include "CPipeBusShim.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

// Every descriptor from `first` on is closed, except `keep`. close_range first (Linux 5.9);
// where the kernel lacks it, one close per possible descriptor.
static void close_from_except(int first, int keep) {
    int ranges[2][2] = {{first, keep - 1}, {keep + 1, -1}};
    for (int i = 0; i < 2; i++) {
        unsigned low = (unsigned)ranges[i][0];
        unsigned high = ranges[i][1] < 0 ? ~0U : (unsigned)ranges[i][1];
        if (ranges[i][1] >= 0 && ranges[i][1] < ranges[i][0]) continue;
        if (close_range(low, high, 0) == 0) continue;
        struct rlimit limit;
        unsigned end = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY ? (unsigned)limit.rlim_cur : 65536;
        if (high < end) end = high + 1;
        for (unsigned fd = low; fd < end; fd++) close((int)fd);
    }
}

// A descriptor of the report pipe must not be 0, 1 or 2 (possible when the sidecar itself was
// started with closed stdio): the child keeps those as the worker's stdio.
static int above_stdio(int fd) {
    if (fd > 2) return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

// In the child, between fork and exec: async-signal-safe calls only (the parent has threads).
static void run_child(const char *file, char *const argv[], char *const envp[], int death_signal, pid_t parent,
                      int report) {
    int failure = 0;
    if (setpgid(0, 0) != 0) failure = errno;
    if (!failure && death_signal > 0) {
        if (prctl(PR_SET_PDEATHSIG, death_signal) != 0) failure = errno;
        // The parent died before the request took effect: the signal will never come.
        else if (getppid() != parent) _exit(128 + death_signal);
    }
    if (!failure) {
        close_from_except(3, report);
        // Dispositions the sidecar set (SIGTERM and SIGINT ignored for its signal watch, SIGPIPE
        // ignored) must not reach the worker; SIGKILL and SIGSTOP refuse, which is fine.
        struct sigaction defaults = {0};
        defaults.sa_handler = SIG_DFL;
        sigemptyset(&defaults.sa_mask);
        for (int number = 1; number < NSIG; number++) sigaction(number, &defaults, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvpe(file, argv, envp);
        failure = errno;
    }
    while (write(report, &failure, sizeof failure) < 0 && errno == EINTR) {}
    _exit(127);
}

int pipebus_spawn_worker(const char *file, char *const argv[], char *const envp[], int death_signal, int *pid_out) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    report[0] = above_stdio(report[0]);
    report[1] = above_stdio(report[1]);
    if (report[0] < 0 || report[1] < 0) {
        int error = errno;
        if (report[0] >= 0) close(report[0]);
        if (report[1] >= 0) close(report[1]);
        return error;
    }
    // No handler of the sidecar may run in the child before exec: block everything around fork.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) run_child(file, argv, envp, death_signal, parent, report[1]);
    int fork_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        return fork_error;
    }
    // Also from this side, so that the group exists as soon as we return (the child may not
    // have run yet); EACCES once it has exec'd is expected and harmless.
    setpgid(pid, pid);
    // The report pipe is close-on-exec: end of file means exec succeeded.
    int child_error = 0;
    ssize_t count;
    do {
        count = read(report[0], &child_error, sizeof child_error);
    } while (count < 0 && errno == EINTR);
    close(report[0]);
    if (count == (ssize_t)sizeof child_error) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        return child_error ? child_error : ECHILD;
    }
    *pid_out = pid;
    return 0;
}
