// The few libc calls Swift's Glibc module hides behind _GNU_SOURCE (peer credentials, accept4).
#define _GNU_SOURCE
#include "CBrokerSystem.h"
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

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

pid_t cbroker_setsid(void) { return setsid(); }
