/* The floor of bench/agent-raw: what a C server pays for the agent's own rules on a warm request,
 * with nothing else. One poll loop, like the agent's: accept (non-blocking, close-on-exec), check
 * the peer's uid (SO_PEERCRED), read the request to its blank line, append the audit line to an
 * O_APPEND file before answering, send the answer, close. The audit line and the answer are the
 * agent's own bytes for the same request, recorded by the bench, so both servers move the same
 * bytes through the same system calls; the difference between them is the agent's own work.
 *
 *   agent_floor_server SOCKET AUDIT_FILE AUDIT_LINE_FILE ANSWER_FILE
 *
 * Prints "ok" once it listens, and serves until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char *slurp(const char *path, size_t *length)
{
	static char buffer[2][65536];
	static int which;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buffer[which], sizeof buffer[which]);
	if (n <= 0) {
		fprintf(stderr, "agent_floor_server: cannot read %s\n", path);
		exit(2);
	}
	close(fd);
	*length = (size_t)n;
	return buffer[which++];
}

/* Reads one request to its blank line; 0 when it arrived whole. */
static int read_request(int fd)
{
	char request[16384];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, request + got, sizeof request - got);
		if (n > 0) {
			got += (size_t)n;
			if (got >= 2 && memmem(request, got, "\n\n", 2))
				return 0;
			if (got == sizeof request)
				return -1;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			return -1;
		struct pollfd wait = { .fd = fd, .events = POLLIN };
		if (poll(&wait, 1, 10000) <= 0)
			return -1;
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: agent_floor_server SOCKET AUDIT_FILE AUDIT_LINE_FILE ANSWER_FILE\n");
		return 2;
	}
	size_t line_length, answer_length;
	const char *line = slurp(argv[3], &line_length), *answer = slurp(argv[4], &answer_length);
	int audit = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (audit < 0 || listener < 0 || strlen(argv[1]) >= sizeof address.sun_path) {
		perror("agent_floor_server");
		return 1;
	}
	strcpy(address.sun_path, argv[1]);
	unlink(argv[1]);
	if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1024)) {
		perror("agent_floor_server: bind");
		return 1;
	}
	uid_t own = getuid();
	printf("ok\n");
	fflush(stdout);
	for (;;) {
		struct pollfd ready = { .fd = listener, .events = POLLIN };
		if (poll(&ready, 1, 250) <= 0)
			continue;
		for (int batch = 0; batch < 64; batch++) { /* the agent's batch per tick */
			int connection = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (connection < 0)
				break;
			struct ucred peer;
			socklen_t size = sizeof peer;
			if (getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &peer, &size) || peer.uid != own || read_request(connection)) {
				close(connection);
				continue;
			}
			if (write(audit, line, line_length) != (ssize_t)line_length)
				return 1;
			send(connection, answer, answer_length, MSG_DONTWAIT | MSG_NOSIGNAL);
			close(connection);
		}
	}
}
