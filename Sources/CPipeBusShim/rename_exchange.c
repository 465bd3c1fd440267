#define _GNU_SOURCE
#include "CPipeBusShim.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

// Glibc's Swift overlay exposes neither renameat2 nor its flags; the spool needs the exchange to
// rewrite a task file only while it is still there (see TaskSpool's in-place update).
int pipebus_rename_exchange(const char *a, const char *b) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}
