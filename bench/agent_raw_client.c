/* The load client of bench/agent-raw: N threads, each connecting to a Unix socket, sending one
 * request, reading to EOF, again and again for a fixed time. Prints one line of figures.
 *
 *   agent_raw_client SOCKET REQUEST_FILE CLIENTS SECONDS EXPECT [half-close]
 *
 * REQUEST_FILE holds the request bytes as sent; "@PID@" in it becomes this process's pid (the
 * agent's env.plan leases are bound to the caller). EXPECT must appear in every answer, or the
 * answer counts as an error. "half-close" shuts down the writing side after the request, as
 * git's credential-cache client does (send_request in credential-cache.c).
 *
 * Output: requests=N errors=E seconds=S rps=R p50_us=A p99_us=B max_us=C [first_error=...]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *socket_path;
static char *request;
static size_t request_len;
static const char *expect;
static int half_close;
static double deadline;

struct worker {
	pthread_t thread;
	double *latencies_us;
	size_t count, capacity;
	long errors;
	char first_error[256];
};

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void note_error(struct worker *w, const char *what)
{
	if (!w->errors++)
		snprintf(w->first_error, sizeof(w->first_error), "%.255s", what);
}

/* One connection: connect, send, read to EOF. Returns 0 when the answer held EXPECT. */
static int exchange(struct worker *w)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char answer[65536];
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		note_error(w, strerror(errno));
		return -1;
	}
	strncpy(addr.sun_path, socket_path, sizeof(addr.sun_path) - 1);
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == EAGAIN || errno == EINTR) { /* a full backlog: try again */
			usleep(100);
			continue;
		}
		note_error(w, strerror(errno));
		close(fd);
		return -1;
	}
	for (size_t sent = 0; sent < request_len;) {
		ssize_t n = write(fd, request + sent, request_len - sent);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a peer that answered and closed early: its answer is still readable */
		sent += n;
	}
	if (half_close)
		shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n = read(fd, answer + got, sizeof(answer) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
		if (got == sizeof(answer) - 1)
			got = 0; /* an answer this long is wrong anyway; keep draining */
	}
	close(fd);
	answer[got] = 0;
	if (!strstr(answer, expect)) {
		for (char *p = answer; *p; p++)
			if (*p == '\n')
				*p = ' ';
		note_error(w, got ? answer : "(no answer)");
		return -1;
	}
	return 0;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	while (now_seconds() < deadline) {
		double start = now_seconds();
		if (exchange(w) == 0) {
			if (w->count == w->capacity) {
				w->capacity = w->capacity ? w->capacity * 2 : 4096;
				w->latencies_us = realloc(w->latencies_us, w->capacity * sizeof(double));
				if (!w->latencies_us) {
					perror("realloc");
					exit(1);
				}
			}
			w->latencies_us[w->count++] = (now_seconds() - start) * 1e6;
		}
	}
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Reads the request and puts our pid where it says @PID@. */
static void load_request(const char *path)
{
	char raw[65536], pid[32];
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	size_t len = fread(raw, 1, sizeof(raw) - 1, f);
	fclose(f);
	raw[len] = 0;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	request = malloc(len + sizeof(pid));
	char *at = strstr(raw, "@PID@");
	if (at) {
		*at = 0;
		request_len = (size_t)sprintf(request, "%s%s%s", raw, pid, at + 5);
	} else {
		memcpy(request, raw, len);
		request_len = len;
	}
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: agent_raw_client SOCKET REQUEST_FILE CLIENTS SECONDS EXPECT [half-close]\n");
		return 64;
	}
	socket_path = argv[1];
	load_request(argv[2]);
	int clients = atoi(argv[3]);
	double seconds = atof(argv[4]);
	expect = argv[5];
	half_close = argc > 6 && !strcmp(argv[6], "half-close");
	if (clients < 1 || seconds <= 0) {
		fprintf(stderr, "agent_raw_client: CLIENTS and SECONDS must be positive\n");
		return 64;
	}

	struct worker *workers = calloc(clients, sizeof(*workers));
	double start = now_seconds();
	deadline = start + seconds;
	for (int i = 0; i < clients; i++)
		if (pthread_create(&workers[i].thread, NULL, run, &workers[i])) {
			perror("pthread_create");
			return 1;
		}
	size_t total = 0;
	long errors = 0;
	const char *first_error = NULL;
	for (int i = 0; i < clients; i++) {
		pthread_join(workers[i].thread, NULL);
		total += workers[i].count;
		errors += workers[i].errors;
		if (!first_error && workers[i].errors)
			first_error = workers[i].first_error;
	}
	double elapsed = now_seconds() - start;

	double *all = malloc((total ? total : 1) * sizeof(double));
	size_t k = 0;
	for (int i = 0; i < clients; i++) {
		memcpy(all + k, workers[i].latencies_us, workers[i].count * sizeof(double));
		k += workers[i].count;
	}
	qsort(all, total, sizeof(double), by_value);
	double p50 = total ? all[(size_t)(0.50 * (total - 1) + 0.5)] : 0;
	double p99 = total ? all[(size_t)(0.99 * (total - 1) + 0.5)] : 0;
	double max = total ? all[total - 1] : 0;
	printf("requests=%zu errors=%ld seconds=%.3f rps=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f",
	       total, errors, elapsed, total / elapsed, p50, p99, max);
	if (first_error)
		printf(" first_error=%.200s", first_error);
	printf("\n");
	return 0;
}
