#include "CPipeBusShim.h"
#include <sys/vfs.h>

// Glibc's Swift overlay does not expose statfs; the sidecar needs the file system's magic number
// to refuse a spool on a network file system.
long pipebus_filesystem_type(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    return (long)info.f_type;
}
