// The few libc calls Swift's Glibc module hides behind _GNU_SOURCE (peer credentials, accept4).
#define _GNU_SOURCE
#include "CBrokerSystem.h"
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/resource.h>
#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef __linux__
#include <sys/syscall.h>
#include <sys/prctl.h>
#endif
#ifdef __APPLE__
#include <sys/types.h>
#include <sys/ptrace.h>
#endif

int cbroker_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid) {
#ifdef __linux__
    struct ucred cred;
    socklen_t length = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return -1;
    *pid = cred.pid; *uid = cred.uid; *gid = cred.gid;
    return 0;
#else
    *pid = -1;
    return getpeereid(fd, uid, gid);
#endif
}

int cbroker_accept_cloexec(int listener) {
#ifdef __linux__
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
#else
    int fd = accept(listener, NULL, NULL);
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
#endif
}

int cbroker_accept_nonblocking_cloexec(int listener) {
#ifdef __linux__
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
#else
    int fd = accept(listener, NULL, NULL);
    if (fd >= 0) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return fd;
#endif
}

int cbroker_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK));
}

extern char **environ;

int cbroker_exec_searching_path(const char *file, char *const argv[], char *const envp[]) {
    char **saved = environ;
    environ = (char **)envp;
    execvp(file, argv);
    int error = errno;
    environ = saved;
    return error;
}

pid_t cbroker_setsid(void) { return setsid(); }

int cbroker_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
#else
    (void)actions; (void)lowest;
    return 0;  // older libcs: the child closes what it must itself
#endif
}

int cbroker_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
    return posix_spawn_file_actions_addchdir_np(actions, path);
#elif defined(__APPLE__)
    return posix_spawn_file_actions_addchdir_np(actions, path);
#else
    (void)actions; (void)path;
    return ENOSYS;
#endif
}

void cbroker_close_from(int lowest) {
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0) == 0) return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = lowest; fd < max; fd++) close(fd);
}

void cbroker_limit_malloc_arenas(int arenas) {
#ifdef __GLIBC__
    mallopt(M_ARENA_MAX, arenas);
#else
    (void)arenas;
#endif
}

void cbroker_release_free_memory(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void cbroker_raise_open_file_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    rlim_t want = limit.rlim_max == RLIM_INFINITY || limit.rlim_max > 65536 ? 65536 : limit.rlim_max;
    if (limit.rlim_cur < want) {
        limit.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

int cbroker_forbid_core_dumps(void) {
    int failed = 0;
    struct rlimit none = { 0, 0 };
    if (setrlimit(RLIMIT_CORE, &none) != 0) failed = -1;
#ifdef __linux__
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) failed = -1;
#elif defined(__APPLE__)
    if (ptrace(PT_DENY_ATTACH, 0, 0, 0) != 0) failed = -1;
#endif
    return failed;
}

/* C11 atomics through the compiler's builtins: Swift 5.9 has no portable atomic for a global. */
static unsigned long long state_generation;

unsigned long long cbroker_state_generation(void) {
    return __atomic_load_n(&state_generation, __ATOMIC_ACQUIRE);
}

void cbroker_bump_state_generation(void) {
    __atomic_add_fetch(&state_generation, 1, __ATOMIC_ACQ_REL);
}
