// pipebus-c-baseline: the raw-C floor every pipebus benchmark is reported against.
//
// Two processes (this one and a forked server child) talk over a private pair of FIFOs with
// pipebus's framing (1 flags byte + 4-byte big-endian length + body) and nothing else: no
// protobuf, no threads, no allocation in the loop. Each process pins itself to one CPU before
// its loop, because unpinned runs swing ~8x on these machines (docs: DESIGN.md section 5).
//
//   pipebus-c-baseline pingpong --size 64 --iterations 20000 --warmup 2000 --client-cpu 0 --server-cpu 1
//   pipebus-c-baseline stream   --size 64 --messages 200000 --warmup 20000 --client-cpu 0 --server-cpu 1
//   [--pipe-size BYTES] [--spin-us US] [--samples] [--time-writes] [--poll-first]
//
// --spin-us spins on non-blocking reads before poll: yielding on one vCPU, pausing on two
// (read_some says why).
//
// The result is one JSON object on stdout; diagnostics go to stderr and the exit status is 1.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Frame header, as pipebus's FrameHeader: byte 0 flags (0 here: never compressed),
// bytes 1-4 the body length, big-endian.
enum { HEADER_SIZE = 5 };

// A stuck peer (one that died before opening its FIFO end) must not hang the harness:
// blocking FIFO opens wait forever, so setup runs under an alarm.
enum { SETUP_TIMEOUT_SECONDS = 30 };

// The stream reader's buffer: big chunks, as a real reader would use.
enum { STREAM_READ_CHUNK = 256 * 1024 };

enum mode { MODE_PINGPONG, MODE_STREAM };

struct options {
    enum mode mode;
    size_t size;
    long count;    // round trips (pingpong) or messages (stream), measured
    long warmup;   // the same, not measured
    int client_cpu;  // -1: leave unpinned
    int server_cpu;
    long spin_us;    // spin on non-blocking reads (with sched_yield) this long before poll
    int pipe_size;   // F_SETPIPE_SZ on both FIFOs when > 0
    int samples;     // print every measured latency too
    int time_writes; // stream: time every write() syscall of the sender
    int poll_first;  // pipebus's reader pattern: poll (FIFO + an eventfd) before every read
};

// With --poll-first: the eventfd polled beside the read end, as pipebus's FIFOConnectionIO
// does (its wake-up descriptor), and the poll timeout (ms) of this side: the client's 5 ms is
// pipebus's leader budget, the server waits without a timeout.
static int g_poll_eventfd = -1;
static int g_poll_timeout_ms = -1;

struct fifo_paths {
    char dir[PATH_MAX - 16];  // room for "/to-server" in the paths below
    char to_server[PATH_MAX];
    char to_client[PATH_MAX];
};

// Cleanup state, used by the parent's atexit handler only.
static struct fifo_paths g_paths;
static int g_paths_created = 0;
static pid_t g_server_pid = -1;
static int g_is_server = 0;

static void fail(const char *format, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void fail(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fprintf(stderr, "pipebus-c-baseline (%s): ", g_is_server ? "server" : "client");
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    // The child must not run the parent's atexit cleanup (it would remove the FIFOs under it).
    if (g_is_server) _exit(1);
    exit(1);
}

static void cleanup(void) {
    if (g_is_server) return;
    if (g_server_pid > 0) {
        kill(g_server_pid, SIGTERM);
        while (waitpid(g_server_pid, NULL, 0) < 0 && errno == EINTR) {}
        g_server_pid = -1;
    }
    if (g_paths_created) {
        unlink(g_paths.to_server);
        unlink(g_paths.to_client);
        rmdir(g_paths.dir);
        g_paths_created = 0;
    }
}

static uint64_t now_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) fail("clock_gettime: %s", strerror(errno));
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin_to_cpu(int cpu) {
    if (cpu < 0) return;
    if (cpu >= CPU_SETSIZE) fail("CPU %d is out of range", cpu);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        fail("cannot pin to CPU %d: %s (is it online and allowed?)", cpu, strerror(errno));
    }
}

// ---------------------------------------------------------------------------------------------
// I/O: every loop retries EINTR and finishes partial transfers.

static void write_all(int fd, const uint8_t *bytes, size_t count) {
    while (count > 0) {
        ssize_t written = write(fd, bytes, count);
        if (written < 0) {
            if (errno == EINTR) continue;
            fail("write: %s", strerror(errno));
        }
        bytes += written;
        count -= (size_t)written;
    }
}

// Whether a spin yields (sched_yield) between its reads: only when the peer shares our vCPU.
static int g_spin_yields = 1;

// Reads at least one byte, or returns 0 at end of stream. With spin_ns > 0 the descriptor is
// non-blocking: it retries for up to spin_ns before sleeping in poll. Between retries it yields
// when both processes share one vCPU (a bare spin would hold the CPU the peer needs), and
// otherwise only pauses: there a yield helps no one, and when a third task is runnable on our
// vCPU (a build), each yield hands it a time slice (EEVDF pushes the yielder's deadline back a
// slice per yield), and nothing preempts it when our data arrives since we never slept. With
// yields on two vCPUs, 22,000 round trips took 84 s under load instead of 0.3 s.
static size_t read_some(int fd, uint8_t *buffer, size_t capacity, uint64_t spin_ns) {
    uint64_t spin_started = 0;
    int spun_out = spin_ns == 0;
    if (g_poll_eventfd >= 0 && spin_ns == 0) {
        // pipebus's pattern: non-blocking read end, poll first, then one read.
        for (;;) {
            struct pollfd pfds[2] = {{.fd = fd, .events = POLLIN, .revents = 0},
                                     {.fd = g_poll_eventfd, .events = POLLIN, .revents = 0}};
            if (poll(pfds, 2, g_poll_timeout_ms) < 0 && errno != EINTR) fail("poll: %s", strerror(errno));
            if (pfds[0].revents == 0) continue;
            ssize_t got = read(fd, buffer, capacity);
            if (got >= 0) return (size_t)got;
            if (errno != EINTR && errno != EAGAIN) fail("read: %s", strerror(errno));
        }
    }
    for (;;) {
        ssize_t got = read(fd, buffer, capacity);
        if (got >= 0) return (size_t)got;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) fail("read: %s", strerror(errno));
        if (!spun_out) {
            uint64_t now = now_ns();
            if (spin_started == 0) spin_started = now;
            if (now - spin_started < spin_ns) {
                if (g_spin_yields) {
                    sched_yield();
                } else {
                    __builtin_ia32_pause();
                }
                continue;
            }
            spun_out = 1;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) fail("poll: %s", strerror(errno));
    }
}

static uint32_t read_be32(const uint8_t *bytes) {
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | (uint32_t)bytes[3];
}

static void write_header(uint8_t *header, uint32_t length) {
    header[0] = 0;
    header[1] = (uint8_t)(length >> 24);
    header[2] = (uint8_t)(length >> 16);
    header[3] = (uint8_t)(length >> 8);
    header[4] = (uint8_t)length;
}

// Checks a header and returns its body length.
static size_t parse_header(const uint8_t *header, size_t max_body) {
    if (header[0] != 0) fail("unexpected frame flags 0x%02x", header[0]);
    uint32_t length = read_be32(header + 1);
    if (length > max_body) fail("frame of %" PRIu32 " bytes exceeds %zu", length, max_body);
    return length;
}

// Reads one whole frame into buffer (header included) and returns its body length, or -1 at a
// clean end of stream. Ping-pong has one frame in flight, so a read never runs past it.
static long read_frame(int fd, uint8_t *buffer, size_t capacity, uint64_t spin_ns) {
    size_t have = 0;
    size_t need = HEADER_SIZE;
    size_t body = 0;
    while (have < need) {
        size_t got = read_some(fd, buffer + have, capacity - have, spin_ns);
        if (got == 0) {
            if (have == 0) return -1;
            fail("end of stream inside a frame");
        }
        have += got;
        if (need == HEADER_SIZE && have >= HEADER_SIZE) {
            body = parse_header(buffer, capacity - HEADER_SIZE);
            need = HEADER_SIZE + body;
        }
    }
    if (have != need) fail("peer sent more than one frame");
    return (long)body;
}

// ---------------------------------------------------------------------------------------------
// Setup

static int open_fifo(const char *path, int flags, int pipe_size) {
    int fd;
    do {
        fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) fail("open %s: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0) fail("fstat %s: %s", path, strerror(errno));
    if (!S_ISFIFO(info.st_mode) || info.st_uid != geteuid()) fail("%s is not our FIFO", path);
    // As pipebus does: a refused size (the per-user pipe budget, DESIGN §5) keeps the default,
    // and the report's pipe_capacity says what was used.
    if (pipe_size > 0 && fcntl(fd, F_SETPIPE_SZ, pipe_size) < 0) {
        fprintf(stderr, "pipebus-c-baseline: F_SETPIPE_SZ %d on %s: %s; keeping the default\n", pipe_size, path,
                strerror(errno));
    }
    return fd;
}

static void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) fail("fcntl O_NONBLOCK: %s", strerror(errno));
}

static void setup_poll_first(int timeout_ms) {
    g_poll_eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g_poll_eventfd < 0) fail("eventfd: %s", strerror(errno));
    g_poll_timeout_ms = timeout_ms;
}

static void make_fifos(struct fifo_paths *paths) {
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0') tmp = "/tmp";
    if (snprintf(paths->dir, sizeof paths->dir, "%s/pipebus-c-baseline.XXXXXX", tmp) >= (int)sizeof paths->dir) {
        fail("TMPDIR is too long");
    }
    // mkdtemp makes the directory 0700; the umask keeps the FIFOs at 0600 whatever it was.
    umask(077);
    if (mkdtemp(paths->dir) == NULL) fail("mkdtemp %s: %s", paths->dir, strerror(errno));
    if (snprintf(paths->to_server, sizeof paths->to_server, "%s/to-server", paths->dir) >= (int)sizeof paths->to_server
        || snprintf(paths->to_client, sizeof paths->to_client, "%s/to-client", paths->dir) >= (int)sizeof paths->to_client) {
        fail("TMPDIR is too long");
    }
    g_paths_created = 1;
    if (mkfifo(paths->to_server, 0600) != 0) fail("mkfifo: %s", strerror(errno));
    if (mkfifo(paths->to_client, 0600) != 0) fail("mkfifo: %s", strerror(errno));
}

// ---------------------------------------------------------------------------------------------
// Server (the forked child)

static void serve_pingpong(int in, int out, const struct options *options) {
    size_t capacity = HEADER_SIZE + options->size;
    uint8_t *buffer = malloc(capacity);
    if (buffer == NULL) fail("out of memory");
    long body;
    while ((body = read_frame(in, buffer, capacity, (uint64_t)options->spin_us * 1000)) >= 0) {
        write_all(out, buffer, HEADER_SIZE + (size_t)body);
    }
    free(buffer);
}

// Counts frames and acknowledges the end of the warmup and of the measured run with an empty
// frame each, so the writer's clock covers delivery, not just its writes.
static void serve_stream(int in, int out, const struct options *options) {
    size_t capacity = STREAM_READ_CHUNK > HEADER_SIZE + options->size ? STREAM_READ_CHUNK : 2 * (HEADER_SIZE + options->size);
    uint8_t *buffer = malloc(capacity);
    if (buffer == NULL) fail("out of memory");
    uint8_t ack[HEADER_SIZE];
    write_header(ack, 0);
    long received = 0;
    size_t have = 0;
    for (;;) {
        size_t got = read_some(in, buffer + have, capacity - have, (uint64_t)options->spin_us * 1000);
        if (got == 0) {
            if (have != 0) fail("end of stream inside a frame");
            break;
        }
        have += got;
        size_t offset = 0;
        while (have - offset >= HEADER_SIZE) {
            size_t body = parse_header(buffer + offset, options->size);
            if (body != options->size) fail("frame of %zu bytes, expected %zu", body, options->size);
            if (have - offset < HEADER_SIZE + body) break;
            offset += HEADER_SIZE + body;
            received += 1;
            if ((received == options->warmup && options->warmup > 0) || received == options->warmup + options->count) {
                write_all(out, ack, sizeof ack);
            }
        }
        memmove(buffer, buffer + offset, have - offset);
        have -= offset;
    }
    if (received != options->warmup + options->count) {
        fail("received %ld frames, expected %ld", received, options->warmup + options->count);
    }
    free(buffer);
}

static void run_server(const struct options *options, const struct fifo_paths *paths) {
    g_is_server = 1;
    alarm(SETUP_TIMEOUT_SECONDS);
    // Open order mirrors the client's (to-server first), or both would block forever.
    int in = open_fifo(paths->to_server, O_RDONLY, options->pipe_size);
    int out = open_fifo(paths->to_client, O_WRONLY, options->pipe_size);
    alarm(0);
    if (options->spin_us > 0 || options->poll_first) set_nonblocking(in);
    if (options->poll_first) setup_poll_first(-1);
    pin_to_cpu(options->server_cpu);
    if (options->mode == MODE_PINGPONG) {
        serve_pingpong(in, out, options);
    } else {
        serve_stream(in, out, options);
    }
    close(out);
    close(in);
}

// ---------------------------------------------------------------------------------------------
// Client (the parent): measures

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

// Nearest-rank percentile of a sorted array; per_100k is the percentile times 1000
// (99.9% = 99900), so that every rank is computed exactly in integers.
static uint64_t percentile(const uint64_t *sorted, size_t count, uint64_t per_100k) {
    size_t rank = (size_t)((per_100k * count + 99999) / 100000);
    if (rank == 0) rank = 1;
    return sorted[rank - 1];
}

static void fill_frame(uint8_t *frame, size_t size) {
    write_header(frame, (uint32_t)size);
    for (size_t i = 0; i < size; i++) frame[HEADER_SIZE + i] = (uint8_t)(i * 31 + 7);
}

static void print_common(const struct options *options, int pipe_capacity, uint64_t elapsed_ns) {
    double seconds = (double)elapsed_ns / 1e9;
    double per_second = (double)options->count / seconds;
    printf("{\"mode\":\"%s\",\"size\":%zu,\"count\":%ld,\"warmup\":%ld,\"client_cpu\":%d,\"server_cpu\":%d,"
           "\"spin_us\":%ld,\"pipe_capacity\":%d,\"elapsed_ns\":%" PRIu64 ",\"messages_per_s\":%.1f,\"mb_per_s\":%.3f",
           options->mode == MODE_PINGPONG ? "pingpong" : "stream", options->size, options->count, options->warmup,
           options->client_cpu, options->server_cpu, options->spin_us, pipe_capacity, elapsed_ns, per_second,
           per_second * (double)options->size / 1e6);
    if (options->spin_us > 0) printf(",\"spin_yields\":%s", g_spin_yields ? "true" : "false");
}

// One frame out, the echo back, timed per round trip. messages_per_s counts round trips and
// mb_per_s the payload moved one way.
static void client_pingpong(int out, int in, const struct options *options, int pipe_capacity) {
    size_t frame_size = HEADER_SIZE + options->size;
    uint8_t *frame = malloc(frame_size);
    uint8_t *reply = malloc(frame_size);
    uint64_t *latencies = malloc(sizeof(uint64_t) * (size_t)options->count);
    uint64_t *sorted = malloc(sizeof(uint64_t) * (size_t)options->count);
    if (frame == NULL || reply == NULL || latencies == NULL || sorted == NULL) fail("out of memory");
    fill_frame(frame, options->size);
    uint64_t spin_ns = (uint64_t)options->spin_us * 1000;

    uint64_t measured_start = 0;
    uint64_t end = 0;
    for (long i = 0; i < options->warmup + options->count; i++) {
        uint64_t start = now_ns();
        if (i == options->warmup) measured_start = start;
        write_all(out, frame, frame_size);
        long body = read_frame(in, reply, frame_size, spin_ns);
        end = now_ns();
        if (body != (long)options->size) fail("reply of %ld bytes, expected %zu", body, options->size);
        if (i >= options->warmup) latencies[i - options->warmup] = end - start;
    }
    if (memcmp(frame, reply, frame_size) != 0) fail("the echo differs from the frame sent");

    size_t n = (size_t)options->count;
    memcpy(sorted, latencies, sizeof(uint64_t) * n);
    qsort(sorted, n, sizeof(uint64_t), compare_u64);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += sorted[i];

    print_common(options, pipe_capacity, end - measured_start);
    printf(",\"latency_ns\":{\"min\":%" PRIu64 ",\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
           ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 ",\"mean\":%.1f}",
           sorted[0], percentile(sorted, n, 50000), percentile(sorted, n, 90000), percentile(sorted, n, 99000),
           percentile(sorted, n, 99900), sorted[n - 1], (double)sum / (double)n);
    if (options->samples) {
        // In measurement order, so that a reader can also see drift over the run.
        printf(",\"samples_ns\":[");
        for (size_t i = 0; i < n; i++) printf(i == 0 ? "%" PRIu64 : ",%" PRIu64, latencies[i]);
        printf("]");
    }
    printf("}\n");
    free(sorted);
    free(latencies);
    free(reply);
    free(frame);
}

// Durations of write() syscalls, as pipebus's pipe_write_latency_seconds records them: each
// call timed on its own, a partial write and its continuation being two calls.
struct write_timings {
    uint64_t *samples;
    size_t count;
    size_t capacity;
    uint64_t bytes;
};

static void write_all_timed(int fd, const uint8_t *bytes, size_t count, struct write_timings *timings) {
    while (count > 0) {
        uint64_t start = now_ns();
        ssize_t written = write(fd, bytes, count);
        uint64_t end = now_ns();
        if (written < 0) {
            if (errno == EINTR) continue;
            fail("write: %s", strerror(errno));
        }
        if (timings->count == timings->capacity) {
            timings->capacity = timings->capacity * 2 + 1024;
            timings->samples = realloc(timings->samples, sizeof(uint64_t) * timings->capacity);
            if (timings->samples == NULL) fail("out of memory");
        }
        timings->samples[timings->count++] = end - start;
        timings->bytes += (uint64_t)written;
        bytes += written;
        count -= (size_t)written;
    }
}

// One write per message; the reader acknowledges after the warmup and after the last message.
// With --time-writes every measured write() is timed too (which slows the sender a little: the
// throughput of such a run is not the baseline's).
static void client_stream(int out, int in, const struct options *options, int pipe_capacity) {
    size_t frame_size = HEADER_SIZE + options->size;
    uint8_t *frame = malloc(frame_size);
    uint8_t ack[HEADER_SIZE];
    if (frame == NULL) fail("out of memory");
    fill_frame(frame, options->size);
    uint64_t spin_ns = (uint64_t)options->spin_us * 1000;
    struct write_timings timings = {0};

    for (long i = 0; i < options->warmup; i++) write_all(out, frame, frame_size);
    if (options->warmup > 0 && read_frame(in, ack, sizeof ack, spin_ns) != 0) fail("bad warmup acknowledgement");
    uint64_t start = now_ns();
    if (options->time_writes) {
        for (long i = 0; i < options->count; i++) write_all_timed(out, frame, frame_size, &timings);
    } else {
        for (long i = 0; i < options->count; i++) write_all(out, frame, frame_size);
    }
    if (read_frame(in, ack, sizeof ack, spin_ns) != 0) fail("bad acknowledgement");
    uint64_t end = now_ns();

    print_common(options, pipe_capacity, end - start);
    if (options->time_writes && timings.count > 0) {
        printf(",\"writes\":%zu,\"written_bytes\":%" PRIu64, timings.count, timings.bytes);
        if (options->samples) {
            printf(",\"write_samples_ns\":[");
            for (size_t i = 0; i < timings.count; i++) printf(i == 0 ? "%" PRIu64 : ",%" PRIu64, timings.samples[i]);
            printf("]");
        }
    }
    printf("}\n");
    free(timings.samples);
    free(frame);
}

static int run_client(const struct options *options, const struct fifo_paths *paths) {
    alarm(SETUP_TIMEOUT_SECONDS);
    int out = open_fifo(paths->to_server, O_WRONLY, options->pipe_size);
    int in = open_fifo(paths->to_client, O_RDONLY, options->pipe_size);
    alarm(0);
    int pipe_capacity = fcntl(out, F_GETPIPE_SZ);
    if (options->spin_us > 0 || options->poll_first) set_nonblocking(in);
    if (options->poll_first) setup_poll_first(5);
    pin_to_cpu(options->client_cpu);
    if (options->mode == MODE_PINGPONG) {
        client_pingpong(out, in, options, pipe_capacity);
    } else {
        client_stream(out, in, options, pipe_capacity);
    }
    // Closing our write end is the server's signal to finish.
    close(out);
    int status;
    pid_t server = g_server_pid;
    g_server_pid = -1;
    while (waitpid(server, &status, 0) < 0) {
        if (errno != EINTR) fail("waitpid: %s", strerror(errno));
    }
    close(in);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("the server failed (status 0x%x)", status);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Arguments

static void usage(FILE *stream) {
    fprintf(stream,
            "usage: pipebus-c-baseline pingpong|stream [options]\n"
            "  --size BYTES         payload bytes per frame (default 64)\n"
            "  --iterations N       measured round trips (pingpong) or messages (stream)\n"
            "  --messages N         the same as --iterations\n"
            "  --warmup N           unmeasured round trips or messages first (default N/10)\n"
            "  --client-cpu CPU     pin the client (this process) to CPU; -1 leaves it unpinned (default 0)\n"
            "  --server-cpu CPU     pin the server child to CPU; -1 leaves it unpinned (default 0)\n"
            "  --spin-us US         spin on non-blocking reads up to US before poll (default 0), with sched_yield\n"
            "                       when both sides share a CPU, else with a pause instruction\n"
            "  --pipe-size BYTES    F_SETPIPE_SZ on both FIFOs (default: the system's)\n"
            "  --samples            also print every measured latency (pingpong) or write duration (stream)\n"
            "  --time-writes        stream: time every write() of the sender\n"
            "  --poll-first         pipebus's read pattern: poll the FIFO and an eventfd (client: 5 ms timeout)\n"
            "                       before every non-blocking read (ignored with --spin-us)\n");
}

static long parse_long(const char *name, const char *text, long minimum, long maximum) {
    if (text == NULL) fail("%s needs a value", name);
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum) {
        fail("%s: '%s' is not a number in %ld...%ld", name, text, minimum, maximum);
    }
    return value;
}

static struct options parse_options(int argc, char **argv) {
    struct options options = {
        .mode = MODE_PINGPONG, .size = 64, .count = 20000, .warmup = -1,
        .client_cpu = 0, .server_cpu = 0, .spin_us = 0, .pipe_size = 0, .samples = 0, .time_writes = 0, .poll_first = 0,
    };
    if (argc < 2) {
        usage(stderr);
        exit(2);
    }
    if (strcmp(argv[1], "pingpong") == 0) {
        options.mode = MODE_PINGPONG;
    } else if (strcmp(argv[1], "stream") == 0) {
        options.mode = MODE_STREAM;
    } else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        exit(0);
    } else {
        usage(stderr);
        exit(2);
    }
    for (int i = 2; i < argc; i++) {
        const char *name = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(name, "--samples") == 0) {
            options.samples = 1;
            continue;
        }
        if (strcmp(name, "--time-writes") == 0) {
            options.time_writes = 1;
            continue;
        }
        if (strcmp(name, "--poll-first") == 0) {
            options.poll_first = 1;
            continue;
        }
        if (strcmp(name, "--size") == 0) {
            options.size = (size_t)parse_long(name, value, 0, 64L * 1024 * 1024);
        } else if (strcmp(name, "--iterations") == 0 || strcmp(name, "--messages") == 0) {
            options.count = parse_long(name, value, 1, 1000000000L);
        } else if (strcmp(name, "--warmup") == 0) {
            options.warmup = parse_long(name, value, 0, 1000000000L);
        } else if (strcmp(name, "--client-cpu") == 0) {
            options.client_cpu = (int)parse_long(name, value, -1, CPU_SETSIZE - 1);
        } else if (strcmp(name, "--server-cpu") == 0) {
            options.server_cpu = (int)parse_long(name, value, -1, CPU_SETSIZE - 1);
        } else if (strcmp(name, "--spin-us") == 0) {
            options.spin_us = parse_long(name, value, 0, 1000000L);
        } else if (strcmp(name, "--pipe-size") == 0) {
            options.pipe_size = (int)parse_long(name, value, 0, INT_MAX);
        } else {
            usage(stderr);
            fail("unknown option %s", name);
        }
        i += 1;
    }
    if (options.warmup < 0) options.warmup = options.count / 10;
    return options;
}

int main(int argc, char **argv) {
    struct options options = parse_options(argc, argv);
    // Unpinned, the peer may share our vCPU at any time: yield then, as on one vCPU.
    g_spin_yields = options.client_cpu < 0 || options.server_cpu < 0 || options.client_cpu == options.server_cpu;
    // A write to a FIFO whose reader is gone must return EPIPE, not kill us.
    signal(SIGPIPE, SIG_IGN);
    if (atexit(cleanup) != 0) fail("atexit failed");
    make_fifos(&g_paths);
    // Flush before fork so that nothing buffered is printed twice.
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) fail("fork: %s", strerror(errno));
    if (pid == 0) {
        run_server(&options, &g_paths);
        _exit(0);
    }
    g_server_pid = pid;
    int status = run_client(&options, &g_paths);
    if (fflush(stdout) != 0) fail("writing the result: %s", strerror(errno));
    return status;
}
