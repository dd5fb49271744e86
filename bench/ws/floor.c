/* See LICENSE. The kernel's floor for a fan-out, with no hub at all: one process send()s a
 * 134-byte message to each of N loopback TCP sockets in a plain loop, while another
 * process reads them through epoll as bench/ws/load does. What bench/ws/hubd takes beyond
 * this is the hub's own cost. usage: floor [clients] [rounds]; prints one JSON object. */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t
mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000 + (uint64_t)t.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(uint64_t *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return (double)v[(int)(p / 100 * (n - 1) + 0.5)] / 1e6;
}

/* The reader: connect n sockets, then each round read one message from every one. */
static void
reader(int n, int rounds, struct sockaddr_in *a, int go, int done)
{
	struct epoll_event ev, evs[1024];
	int *cs = malloc((size_t)n * sizeof(*cs)), ep = epoll_create1(0), i, r, m, got;
	uint64_t t0, last;
	char buf[4096];

	for (i = 0; i < n; i++) {
		cs[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(cs[i], (struct sockaddr *)a, sizeof(*a)) == -1) {
			perror("floor: connect");
			exit(111);
		}
		fcntl(cs[i], F_SETFL, O_NONBLOCK);
		ev.events = EPOLLIN;
		ev.data.fd = cs[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i], &ev);
	}
	if (write(done, "r", 1) != 1)
		exit(111);
	for (r = 0; r < rounds; r++) {
		if (read(go, &t0, sizeof(t0)) != sizeof(t0))
			exit(111);
		for (got = 0; got < n; ) {
			m = epoll_wait(ep, evs, 1024, -1);
			for (i = 0; i < m; i++)
				if (read(evs[i].data.fd, buf, sizeof(buf)) > 0)
					got++;
		}
		last = mono_ns() - t0;
		if (write(done, &last, sizeof(last)) != sizeof(last))
			exit(111);
	}
	exit(0);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a;
	struct rlimit rl;
	socklen_t sl = sizeof(a);
	int n = argc > 1 ? atoi(argv[1]) : 10000, rounds = argc > 2 ? atoi(argv[2]) : 30;
	int one = 1, i, r, l, go[2], done[2], *ss;
	uint64_t *snd, *rcv, t0;
	char msg[134], c;
	pid_t pid;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) == -1 || listen(l, 4096) == -1 ||
	    getsockname(l, (struct sockaddr *)&a, &sl) == -1 || pipe(go) == -1 ||
	    pipe(done) == -1 || (pid = fork()) == -1) {
		perror("floor");
		return 111;
	}
	if (pid == 0)
		reader(n, rounds, &a, go[0], done[1]);
	ss = malloc((size_t)n * sizeof(*ss));
	for (i = 0; i < n; i++) {
		ss[i] = accept(l, NULL, NULL);
		setsockopt(ss[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(ss[i], F_SETFL, O_NONBLOCK);
	}
	if (read(done[0], &c, 1) != 1)
		return 111;
	usleep(200 * 1000);
	memset(msg, 'x', sizeof(msg));
	snd = malloc((size_t)rounds * sizeof(*snd));
	rcv = malloc((size_t)rounds * sizeof(*rcv));
	for (r = 0; r < rounds; r++) {
		t0 = mono_ns();
		if (write(go[1], &t0, sizeof(t0)) != sizeof(t0))
			return 111;
		for (i = 0; i < n; i++)
			send(ss[i], msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
		snd[r] = mono_ns() - t0;
		if (read(done[0], &rcv[r], sizeof(rcv[r])) != sizeof(rcv[r]))
			return 111;
		usleep(100 * 1000);
	}
	printf("{ \"clients\": %d, \"rounds\": %d, "
	    "\"send_loop_ms\": { \"p50\": %.3f, \"p99\": %.3f }, "
	    "\"last_read_ms\": { \"p50\": %.3f, \"p99\": %.3f } }\n", n, rounds,
	    pct(snd, rounds, 50), pct(snd, rounds, 99), pct(rcv, rounds, 50), pct(rcv, rounds, 99));
	waitpid(pid, NULL, 0);
	return 0;
}
