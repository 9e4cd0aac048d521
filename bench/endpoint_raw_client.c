/* The client of bench/endpoint-raw: the server's own answer time per route of the loopback
 * endpoint, without an SDK's cost. Run inside broker-env-wrap; builds each route's request from
 * the variables the wrap set, with the bytes the SDKs send (the route's secret where the SDK puts
 * it, the same generic headers for all three), then opens a fresh connection per request and times
 * connect -> last byte of the answer (EOF), the routes interleaved in rotating order.
 *
 *   endpoint_raw_client REQUESTS [ROUTE]      (ROUTE: aws, gcp or azure alone, for a profiler)
 *
 * Each route is also asked with a wrong secret of the same length (ROUTE403: refused with 403).
 * And each of the six is asked of a canned server (ROUTE_floor): a child process on its own
 * loopback port that reads a request to its blank line and writes back, whole, the answer the
 * endpoint gave that request at the start; one thread, an answer per connection, as the endpoint's
 * accept loop. Its time is what the requests' and answers' shapes cost the client and the kernel
 * with no server work at all; the endpoint's time less it is the endpoint's own.
 * Output: one line per series, "ROUTE median_us=A p10_us=B p90_us=C bytes=N request_bytes=Q errors=E".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct route {
	const char *name, *expect, *status;
	char request[4096];
	size_t length;
	int port;
	double *samples;
	size_t count;
	long errors, bytes;
	char answer[8192]; /* what the endpoint answered, replayed by the canned server */
	size_t answer_length;
};

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static const char *need(const char *name)
{
	const char *value = getenv(name);
	if (!value || !*value) {
		fprintf(stderr, "endpoint_raw_client: %s is not set (run it under broker-env-wrap)\n", name);
		exit(2);
	}
	return value;
}

/* "http://127.0.0.1:PORT/rest" or "127.0.0.1:PORT/rest": the port, and where "/rest" starts. */
static int port_of(const char *url, const char **path)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	p = strchr(p, ':');
	if (!p) { fprintf(stderr, "endpoint_raw_client: no port in %s\n", url); exit(2); }
	int port = atoi(p + 1);
	*path = strchr(p, '/');
	if (!*path) *path = "";
	return port;
}

/* The same generic lines for every route (what urllib3 and requests send), then the route's own. */
static void build(struct route *r, const char *target, const char *own)
{
	int n = snprintf(r->request, sizeof(r->request),
	                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: endpoint-raw-bench\r\n"
	                 "Accept-Encoding: identity\r\nAccept: */*\r\nConnection: keep-alive\r\n%s\r\n",
	                 target, r->port, own);
	if (n <= 0 || (size_t)n >= sizeof(r->request)) { fprintf(stderr, "endpoint_raw_client: request too long\n"); exit(2); }
	r->length = n;
}

/* One request on a fresh connection; returns microseconds, or -1 on a failed or wrong answer. */
static double exchange(struct route *r)
{
	static char answer[65536];
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(r->port) };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	double start = now_us();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (fd >= 0) close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (size_t sent = 0; sent < r->length;) {
		ssize_t n = write(fd, r->request + sent, r->length - sent);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) { close(fd); return -1; }
		sent += n;
	}
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, answer + got, sizeof(answer) - 1 - got);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		got += n;
		if (got == sizeof(answer) - 1) break;
	}
	double elapsed = now_us() - start;
	close(fd);
	answer[got] = 0;
	if (strncmp(answer, r->status, strlen(r->status)) != 0 || !strstr(answer, r->expect)) {
		if (!r->errors) fprintf(stderr, "endpoint_raw_client: %s answered: %.200s\n", r->name, answer);
		return -1;
	}
	r->bytes = got;
	if (!r->answer_length && got <= sizeof(r->answer)) memcpy(r->answer, answer, r->answer_length = got);
	return elapsed;
}

/* The canned server: for each connection, read to the blank line, find the request among the
 * routes' (whole-request compare), write that route's recorded answer, close. */
static void serve_canned(int listener, struct route *routes, int count)
{
	static char request[8192];
	for (;;) {
		int fd = accept(listener, NULL, NULL);
		if (fd < 0) { if (errno == EINTR) continue; _exit(1); }
		size_t got = 0;
		while (got < sizeof(request)) {
			ssize_t n = read(fd, request + got, sizeof(request) - got);
			if (n < 0 && errno == EINTR) continue;
			if (n <= 0) break;
			got += n;
			if (got >= 4 && memcmp(request + got - 4, "\r\n\r\n", 4) == 0) break;
		}
		for (int i = 0; i < count; i++) {
			if (routes[i].length != got || memcmp(routes[i].request, request, got) != 0) continue;
			for (size_t sent = 0; sent < routes[i].answer_length;) {
				ssize_t n = write(fd, routes[i].answer + sent, routes[i].answer_length - sent);
				if (n < 0 && errno == EINTR) continue;
				if (n <= 0) break;
				sent += n;
			}
			break;
		}
		close(fd);
	}
}

/* Starts the canned server on a port of its own; the floor routes are the endpoint's requests
 * with that port in their Host line (the same number of digits, so the same bytes' count). */
static pid_t start_canned(struct route *routes, struct route *floors, int count)
{
	int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t length = sizeof(addr);
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(listener, 128) < 0
	    || getsockname(listener, (struct sockaddr *)&addr, &length) < 0) {
		perror("endpoint_raw_client: canned server");
		exit(2);
	}
	for (int i = 0; i < count; i++) {
		struct route *f = &floors[i];
		*f = routes[i];
		f->port = ntohs(addr.sin_port);
		char from[32], to[32];
		snprintf(from, sizeof(from), "127.0.0.1:%d\r\n", routes[i].port);
		snprintf(to, sizeof(to), "127.0.0.1:%d\r\n", f->port);
		char *at = strstr(f->request, from);
		if (!at || strlen(from) != strlen(to)) {
			fprintf(stderr, "endpoint_raw_client: the canned port %d is not the endpoint's length\n", f->port);
			exit(2);
		}
		memcpy(at, to, strlen(to));
		if (!f->answer_length) { fprintf(stderr, "endpoint_raw_client: %s gave no answer to replay\n", f->name); exit(2); }
	}
	fflush(stdout);
	pid_t child = fork();
	if (child < 0) { perror("endpoint_raw_client: fork"); exit(2); }
	if (child == 0) serve_canned(listener, floors, count);
	close(listener);
	return child;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long requests = argc > 1 ? atol(argv[1]) : 3000;
	const char *only = argc > 2 ? argv[2] : NULL; /* one route alone (for a profiler) */
	/* Each route twice: answered, and refused for a wrong secret of the same length (the same
	 * bytes in, everything but the answer done: what the route's answer itself costs). */
	struct route routes[6] = {
		{ .name = "aws", .expect = "\"AccessKeyId\"", .status = "HTTP/1.1 200 " },
		{ .name = "gcp", .expect = "\"access_token\"", .status = "HTTP/1.1 200 " },
		{ .name = "azure", .expect = "\"access_token\"", .status = "HTTP/1.1 200 " },
		{ .name = "aws403", .expect = "", .status = "HTTP/1.1 403 " },
		{ .name = "gcp403", .expect = "", .status = "HTTP/1.1 403 " },
		{ .name = "azure403", .expect = "", .status = "HTTP/1.1 403 " },
	};
	const char *path;
	char own[1024], target[1024];

	/* botocore: GET the full URI, Authorization copied from AWS_CONTAINER_AUTHORIZATION_TOKEN. */
	routes[0].port = port_of(need("AWS_CONTAINER_CREDENTIALS_FULL_URI"), &path);
	snprintf(own, sizeof(own), "Authorization: %s\r\n", need("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
	build(&routes[0], path, own);
	/* google-auth: http:// + GCE_METADATA_HOST + the token path, with Metadata-Flavor. */
	routes[1].port = port_of(need("GCE_METADATA_HOST"), &path);
	snprintf(target, sizeof(target), "%s/computeMetadata/v1/instance/service-accounts/default/token", path);
	build(&routes[1], target, "Metadata-Flavor: Google\r\n");
	/* MSAL (App Service): IDENTITY_ENDPOINT?api-version&resource, X-IDENTITY-HEADER and Metadata. */
	routes[2].port = port_of(need("IDENTITY_ENDPOINT"), &path);
	snprintf(target, sizeof(target), "%s?api-version=2019-08-01&resource=https%%3A%%2F%%2Fmanagement.azure.com", path);
	snprintf(own, sizeof(own), "X-IDENTITY-HEADER: %s\r\nMetadata: true\r\n", need("IDENTITY_HEADER"));
	build(&routes[2], target, own);

	for (int i = 0; i < 3; i++) {
		struct route *wrong = &routes[i + 3];
		const char *secret = i == 0 ? need("AWS_CONTAINER_AUTHORIZATION_TOKEN") : i == 2 ? need("IDENTITY_HEADER")
		                                                                          : strrchr(need("GCE_METADATA_HOST"), '/') + 1;
		memcpy(wrong->request, routes[i].request, routes[i].length);
		wrong->length = routes[i].length;
		wrong->port = routes[i].port;
		char *at = strstr(wrong->request, secret);
		memset(at, '0', strlen(secret));
	}
	/* One answer from the endpoint per series, to replay; then the canned server's copies. */
	static struct route floors[6];
	for (int i = 0; i < 6; i++)
		if (exchange(&routes[i]) < 0) { fprintf(stderr, "endpoint_raw_client: %s failed\n", routes[i].name); return 1; }
	pid_t canned = start_canned(routes, floors, 6);
	static char names[6][32];
	for (int i = 0; i < 6; i++) {
		snprintf(names[i], sizeof(names[i]), "%s_floor", routes[i].name);
		floors[i].name = names[i];
		routes[i].samples = calloc(requests, sizeof(double));
		floors[i].samples = calloc(requests, sizeof(double));
	}
	static const int orders[6][3] = { {0,1,2}, {1,2,0}, {2,0,1}, {0,2,1}, {2,1,0}, {1,0,2} };
	for (long round = -200; round < requests; round++) { /* 200 warm-up rounds, not counted */
		for (int k = 0; k < 12; k++) {
			int i = orders[(round + 600) % 6][k % 3] + (k % 6 >= 3 ? 3 : 0);
			int floor_first = round & 1; /* neither series always follows the other */
			struct route *r = (k >= 6) != floor_first ? &floors[i] : &routes[i];
			if (only && strcmp(only, routes[i].name) != 0) continue;
			double us = exchange(r);
			if (us < 0) { r->errors++; continue; }
			if (round >= 0) r->samples[r->count++] = us;
		}
	}
	kill(canned, SIGKILL);
	waitpid(canned, NULL, 0);
	for (int i = 0; i < 12; i++) {
		struct route *r = i < 6 ? &routes[i] : &floors[i - 6];
		if (!r->count) { printf("%s errors=%ld\n", r->name, r->errors); continue; }
		qsort(r->samples, r->count, sizeof(double), by_value);
		printf("%s median_us=%.1f p10_us=%.1f p90_us=%.1f bytes=%ld request_bytes=%zu errors=%ld\n", r->name,
		       r->samples[r->count / 2], r->samples[r->count / 10], r->samples[r->count * 9 / 10], r->bytes, r->length, r->errors);
	}
	return 0;
}
