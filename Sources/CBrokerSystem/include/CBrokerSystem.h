// The few libc calls Swift's Glibc module hides behind _GNU_SOURCE (peer credentials, accept4).
#ifndef CBROKERSYSTEM_H
#define CBROKERSYSTEM_H
#include <sys/types.h>

/// getsockopt(SO_PEERCRED) on Linux, getpeereid on macOS (pid -1 there). Returns 0 or -1/errno.
int cbroker_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
/// accept with close-on-exec set atomically where the platform allows it.
int cbroker_accept_cloexec(int listener);
/// accept with close-on-exec and O_NONBLOCK set on the new descriptor (accept4 on Linux).
int cbroker_accept_nonblocking_cloexec(int listener);
/// Sets or clears O_NONBLOCK. Returns 0 or -1/errno.
int cbroker_set_nonblocking(int fd, int on);
/// execvp with `envp` as the new program's environment and the PATH it is searched on (execvp
/// reads PATH from `environ`, so it is swapped in for the call). Returns errno when it fails.
int cbroker_exec_searching_path(const char *file, char *const argv[], char *const envp[]);
/// setsid() for a daemon; returns the new session id or -1.
pid_t cbroker_setsid(void);
#include <spawn.h>
/// Makes a spawned child close every descriptor from `lowest` up, so nothing of ours (sockets,
/// the caller's pipes) leaks into it. Returns 0 or an errno value.
int cbroker_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);
/// Makes a spawned child start in `path` (posix_spawn_file_actions_addchdir_np), so a command's
/// working directory is set without building any shell text. Returns 0 or an errno value.
int cbroker_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path);
/// Closes every descriptor from `lowest` up in this process (daemon start-up hygiene).
void cbroker_close_from(int lowest);
/// Caps glibc's malloc arenas (no-op elsewhere): the agent's threads are short-lived.
void cbroker_limit_malloc_arenas(int arenas);
/// Returns freed heap memory to the OS where the libc can (glibc's malloc_trim).
void cbroker_release_free_memory(void);
/// Raises the soft RLIMIT_NOFILE to the hard limit (capped at 65536).
void cbroker_raise_open_file_limit(void);
/// Keeps the agent's memory (secrets) out of core files and away from same-user ptrace:
/// RLIMIT_CORE 0 (soft and hard), PR_SET_DUMPABLE 0 on Linux, PT_DENY_ATTACH on macOS.
/// Returns 0, or -1 when any step failed.
int cbroker_forbid_core_dumps(void);
/// The agent's state generation: bumped after any change an answer may depend on (cache,
/// git store, configuration), read before a loop replays a remembered answer.
unsigned long long cbroker_state_generation(void);
void cbroker_bump_state_generation(void);
#endif
