/*
 * mock-broker: a standalone Kafka-protocol test broker for meterhouse.
 *
 * Runs librdkafka's built-in mock cluster (rdkafka_mock.h) as a process of
 * its own, so that non-librdkafka clients (KafkaJS, ClickHouse's Kafka
 * engine, ...) can talk to it over TCP on 127.0.0.1.
 *
 * Usage:
 *   mock-broker [--brokers N] [--topic name:partitions[:replicas]]...
 *               [--initial-rebalance-delay-ms MS] [--debug]
 *               [--exit-on-stdin-eof]
 *
 * Once listening it prints one line "BOOTSTRAP=host:port[,host:port...]" to
 * stdout, then runs until SIGINT/SIGTERM (or, with --exit-on-stdin-eof, until
 * stdin is closed, so it cannot outlive a parent that spawned it with a pipe).
 * With --exit-on-stdin-eof, stdin also takes commands (see run_commands):
 * "down 1" / "up 1" take a broker away and bring it back, for tests.
 * Diagnostics go to stderr. Built and started by scripts/kafka-broker.ts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rdkafka.h"
#include "rdkafka_mock.h"
#include "rdkafka_protocol.h"

#define MAX_TOPICS 256

struct topic_spec {
        char *name;
        int partitions;
        int replicas; /* 0 = default: min(3, brokers) */
};

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) {
        stop_signal = sig;
}

static void usage(const char *argv0) {
        fprintf(stderr,
                "usage: %s [--brokers N] [--topic name:partitions[:replicas]]"
                "... [--initial-rebalance-delay-ms MS] [--debug] "
                "[--exit-on-stdin-eof]\n",
                argv0);
}

/* Parses a decimal int in [min, max]; returns 0 on success. */
static int parse_int(const char *s, int min, int max, int *out) {
        char *end;
        long v;
        if (!s || !*s)
                return -1;
        errno = 0;
        v     = strtol(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -1;
        *out = (int)v;
        return 0;
}

/* "name:partitions[:replicas]" -> spec (name is strdup'ed). */
static int parse_topic(const char *arg, struct topic_spec *spec) {
        char *copy = strdup(arg), *colon, *colon2;
        if (!copy)
                return -1;
        colon = strchr(copy, ':');
        if (!colon || colon == copy)
                goto fail;
        *colon         = '\0';
        spec->replicas = 0;
        if ((colon2 = strchr(colon + 1, ':'))) {
                *colon2 = '\0';
                if (parse_int(colon2 + 1, 1, 1000, &spec->replicas))
                        goto fail;
        }
        if (parse_int(colon + 1, 1, 100000, &spec->partitions))
                goto fail;
        spec->name = copy;
        return 0;
fail:
        free(copy);
        return -1;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
        (void)rk;
        /* The host client has no bootstrap.servers on purpose: it only
         * carries the mock cluster. Don't warn about that. */
        if (!strcmp(fac, "CONFWARN") && strstr(buf, "bootstrap.servers"))
                return;
        fprintf(stderr, "mock-broker: %d|%s| %s\n", level, fac, buf);
}

/*
 * Commands on stdin (with --exit-on-stdin-eof), one per line:
 *   down <broker id>   disconnect that broker and refuse new connections
 *   up <broker id>     accept connections again
 * Each is answered on stdout with "OK <command>" or "ERR <command>".
 * Returns how many bytes of an unfinished line remain at the buffer's start.
 */
static size_t run_commands(rd_kafka_mock_cluster_t *mcluster, char *buf,
                           size_t len) {
        size_t start = 0, i;
        for (i = 0; i < len; i++) {
                char *cmd = buf + start;
                int id;
                rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__INVALID_ARG;
                if (buf[i] != '\n')
                        continue;
                buf[i] = '\0';
                if (sscanf(cmd, "down %d", &id) == 1)
                        err = rd_kafka_mock_broker_set_down(mcluster, id);
                else if (sscanf(cmd, "up %d", &id) == 1)
                        err = rd_kafka_mock_broker_set_up(mcluster, id);
                printf("%s %s\n", err ? "ERR" : "OK", cmd);
                fflush(stdout);
                start = i + 1;
        }
        if (start == 0 && len >= 255)
                return 0; /* an over-long line: drop it */
        memmove(buf, buf + start, len - start);
        return len - start;
}

int main(int argc, char **argv) {
        struct topic_spec topics[MAX_TOPICS];
        int topic_cnt = 0, brokers = 1, rebalance_delay_ms = 100;
        int debug = 0, watch_stdin = 0, i, rc = 0;
        char errstr[512];
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mcluster;
        struct sigaction sa;
        sigset_t block, orig;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (!strcmp(a, "--brokers") && !parse_int(v, 1, 64, &brokers))
                        i++;
                else if (!strcmp(a, "--topic") && topic_cnt < MAX_TOPICS &&
                         v && !parse_topic(v, &topics[topic_cnt])) {
                        topic_cnt++;
                        i++;
                } else if (!strcmp(a, "--initial-rebalance-delay-ms") &&
                           !parse_int(v, 0, 600000, &rebalance_delay_ms))
                        i++;
                else if (!strcmp(a, "--debug"))
                        debug = 1;
                else if (!strcmp(a, "--exit-on-stdin-eof"))
                        watch_stdin = 1;
                else {
                        fprintf(stderr, "mock-broker: bad argument: %s%s%s\n",
                                a, v ? " " : "", v ? v : "");
                        usage(argv[0]);
                        return 2;
                }
        }

        /* Block the stop signals now: they are only delivered inside
         * ppoll() below, so a signal can't slip in between check and wait.
         * librdkafka's threads inherit the mask and never see them. */
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        sigprocmask(SIG_BLOCK, &block, &orig);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, log_cb);
        if (debug && rd_kafka_conf_set(conf, "debug", "mock", errstr,
                                       sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "mock-broker: %s\n", errstr);
                return 1;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "mock-broker: rd_kafka_new: %s\n", errstr);
                return 1;
        }

        mcluster = rd_kafka_mock_cluster_new(rk, brokers);
        if (!mcluster) {
                fprintf(stderr, "mock-broker: failed to create mock cluster\n");
                rd_kafka_destroy(rk);
                return 1;
        }

        /* Advertise an existing broker as controller: the mock's default
         * (0) names no broker, and KafkaJS's idempotent producer needs one. */
        rd_kafka_mock_set_controller_id(mcluster, 1);
        /* The mock advertises LeaveGroup v4 but only parses the v0 body;
         * v0-v2 share that body, so cap it there (KafkaJS would send v3+). */
        rd_kafka_mock_set_apiversion(mcluster, RD_KAFKAP_LeaveGroup, 0, 2);
        rd_kafka_mock_group_initial_rebalance_delay_ms(mcluster,
                                                       rebalance_delay_ms);

        for (i = 0; i < topic_cnt; i++) {
                int replicas = topics[i].replicas
                                   ? topics[i].replicas
                                   : (brokers < 3 ? brokers : 3);
                rd_kafka_resp_err_t err;
                if (replicas > brokers) {
                        fprintf(stderr,
                                "mock-broker: topic %s: %d replicas > %d "
                                "brokers\n",
                                topics[i].name, replicas, brokers);
                        rc = 1;
                        goto done;
                }
                err = rd_kafka_mock_topic_create(mcluster, topics[i].name,
                                                 topics[i].partitions,
                                                 replicas);
                if (err) {
                        fprintf(stderr,
                                "mock-broker: creating topic %s failed: %s\n",
                                topics[i].name, rd_kafka_err2str(err));
                        rc = 1;
                        goto done;
                }
                fprintf(stderr,
                        "mock-broker: topic %s: %d partition(s), %d "
                        "replica(s)\n",
                        topics[i].name, topics[i].partitions, replicas);
        }

        printf("BOOTSTRAP=%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
        fflush(stdout);

        char line[256];
        size_t line_len = 0;
        while (!stop_signal) {
                struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
                int r = ppoll(&pfd, watch_stdin ? 1 : 0, NULL, &orig);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("mock-broker: ppoll");
                        rc = 1;
                        break;
                }
                if (r > 0 && pfd.revents) {
                        ssize_t n = read(STDIN_FILENO, line + line_len,
                                         sizeof(line) - 1 - line_len);
                        if (n == 0 || (n < 0 && errno != EINTR &&
                                       errno != EAGAIN)) {
                                fprintf(stderr,
                                        "mock-broker: stdin closed, exiting\n");
                                break;
                        }
                        if (n > 0)
                                line_len = run_commands(mcluster, line,
                                                        line_len + (size_t)n);
                }
        }
        if (stop_signal)
                fprintf(stderr, "mock-broker: got %s, shutting down\n",
                        stop_signal == SIGINT ? "SIGINT" : "SIGTERM");

done:
        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(rk);
        for (i = 0; i < topic_cnt; i++)
                free(topics[i].name);
        return rc;
}
