/*
 * test-container-opts.c — run/create flags into the create body as docker's
 * CLI 28 sends it: whole bodies compared byte for byte with the captured
 * traffic of the real CLI (../shared/reference/docker-cli-traffic.txt), flag
 * errors in pflag's words, parse errors in docker's, and the value syntaxes
 * (ports, -v, --mount, --gpus, --ulimit, --cpus, durations, timestamps, CSV).
 */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cli/container-opts.h"
#include "cli/flags.h"

/* The bodies docker run sent in the capture (API 1.41). */
static const char BODY_RUN_IT[] =
    "{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":true,\"AttachStdout"
    "\":true,\"AttachStderr\":true,\"Tty\":true,\"OpenStdin\":true,\"StdinOnce\":true,\"Env\""
    ":null,\"Cmd\":[\"sh\"],\"Image\":\"busybox\",\"Volumes\":{},\"WorkingDir\":\"\",\"Entryp"
    "oint\":null,\"OnBuild\":null,\"Labels\":{},\"HostConfig\":{\"Binds\":null,\"ContainerIDF"
    "ile\":\"\",\"LogConfig\":{\"Type\":\"\",\"Config\":{}},\"NetworkMode\":\"none\",\"PortBi"
    "ndings\":{},\"RestartPolicy\":{\"Name\":\"no\",\"MaximumRetryCount\":0},\"AutoRemove\":f"
    "alse,\"VolumeDriver\":\"\",\"VolumesFrom\":null,\"ConsoleSize\":[40,120],\"CapAdd\":null"
    ",\"CapDrop\":null,\"CgroupnsMode\":\"\",\"Dns\":[],\"DnsOptions\":[],\"DnsSearch\":[],\""
    "ExtraHosts\":null,\"GroupAdd\":null,\"IpcMode\":\"\",\"Cgroup\":\"\",\"Links\":null,\"Oo"
    "mScoreAdj\":0,\"PidMode\":\"\",\"Privileged\":false,\"PublishAllPorts\":false,\"Readonly"
    "Rootfs\":false,\"SecurityOpt\":null,\"UTSMode\":\"\",\"UsernsMode\":\"\",\"ShmSize\":0,\""
    "Isolation\":\"\",\"CpuShares\":0,\"Memory\":0,\"NanoCpus\":0,\"CgroupParent\":\"\",\"Blk"
    "ioWeight\":0,\"BlkioWeightDevice\":[],\"BlkioDeviceReadBps\":[],\"BlkioDeviceWriteBps\":"
    "[],\"BlkioDeviceReadIOps\":[],\"BlkioDeviceWriteIOps\":[],\"CpuPeriod\":0,\"CpuQuota\":0"
    ",\"CpuRealtimePeriod\":0,\"CpuRealtimeRuntime\":0,\"CpusetCpus\":\"\",\"CpusetMems\":\"\""
    ",\"Devices\":[],\"DeviceCgroupRules\":null,\"DeviceRequests\":null,\"MemoryReservation\""
    ":0,\"MemorySwap\":0,\"MemorySwappiness\":-1,\"OomKillDisable\":false,\"PidsLimit\":0,\"U"
    "limits\":[],\"CpuCount\":0,\"CpuPercent\":0,\"IOMaximumIOps\":0,\"IOMaximumBandwidth\":0"
    ",\"MaskedPaths\":null,\"ReadonlyPaths\":null},\"NetworkingConfig\":{\"EndpointsConfig\":"
    "{}}}";

static const char BODY_RUN_RM_SH[] =
    "{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdou"
    "t\":true,\"AttachStderr\":true,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"E"
    "nv\":null,\"Cmd\":[\"sh\",\"-c\",\"echo out; echo err \\u003e\\u00262; exit 7\"],\"Image"
    "\":\"busybox\",\"Volumes\":{},\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\""
    "Labels\":{},\"HostConfig\":{\"Binds\":null,\"ContainerIDFile\":\"\",\"LogConfig\":{\"Typ"
    "e\":\"\",\"Config\":{}},\"NetworkMode\":\"none\",\"PortBindings\":{},\"RestartPolicy\":{"
    "\"Name\":\"no\",\"MaximumRetryCount\":0},\"AutoRemove\":true,\"VolumeDriver\":\"\",\"Vol"
    "umesFrom\":null,\"ConsoleSize\":[0,0],\"CapAdd\":null,\"CapDrop\":null,\"CgroupnsMode\":"
    "\"\",\"Dns\":[],\"DnsOptions\":[],\"DnsSearch\":[],\"ExtraHosts\":null,\"GroupAdd\":null"
    ",\"IpcMode\":\"\",\"Cgroup\":\"\",\"Links\":null,\"OomScoreAdj\":0,\"PidMode\":\"\",\"Pr"
    "ivileged\":false,\"PublishAllPorts\":false,\"ReadonlyRootfs\":false,\"SecurityOpt\":null"
    ",\"UTSMode\":\"\",\"UsernsMode\":\"\",\"ShmSize\":0,\"Isolation\":\"\",\"CpuShares\":0,\""
    "Memory\":0,\"NanoCpus\":0,\"CgroupParent\":\"\",\"BlkioWeight\":0,\"BlkioWeightDevice\":"
    "[],\"BlkioDeviceReadBps\":[],\"BlkioDeviceWriteBps\":[],\"BlkioDeviceReadIOps\":[],\"Blk"
    "ioDeviceWriteIOps\":[],\"CpuPeriod\":0,\"CpuQuota\":0,\"CpuRealtimePeriod\":0,\"CpuRealt"
    "imeRuntime\":0,\"CpusetCpus\":\"\",\"CpusetMems\":\"\",\"Devices\":[],\"DeviceCgroupRule"
    "s\":null,\"DeviceRequests\":null,\"MemoryReservation\":0,\"MemorySwap\":0,\"MemorySwappi"
    "ness\":-1,\"OomKillDisable\":false,\"PidsLimit\":0,\"Ulimits\":[],\"CpuCount\":0,\"CpuPe"
    "rcent\":0,\"IOMaximumIOps\":0,\"IOMaximumBandwidth\":0,\"MaskedPaths\":null,\"ReadonlyPa"
    "ths\":null},\"NetworkingConfig\":{\"EndpointsConfig\":{}}}";

static const char BODY_RUN_DEFAULT_NET[] =
    "{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdou"
    "t\":true,\"AttachStderr\":true,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"E"
    "nv\":null,\"Cmd\":[\"echo\",\"hi\"],\"Image\":\"busybox\",\"Volumes\":{},\"WorkingDir\":"
    "\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":{},\"HostConfig\":{\"Binds\":null,\""
    "ContainerIDFile\":\"\",\"LogConfig\":{\"Type\":\"\",\"Config\":{}},\"NetworkMode\":\"def"
    "ault\",\"PortBindings\":{},\"RestartPolicy\":{\"Name\":\"no\",\"MaximumRetryCount\":0},\""
    "AutoRemove\":true,\"VolumeDriver\":\"\",\"VolumesFrom\":null,\"ConsoleSize\":[0,0],\"Cap"
    "Add\":null,\"CapDrop\":null,\"CgroupnsMode\":\"\",\"Dns\":[],\"DnsOptions\":[],\"DnsSear"
    "ch\":[],\"ExtraHosts\":null,\"GroupAdd\":null,\"IpcMode\":\"\",\"Cgroup\":\"\",\"Links\""
    ":null,\"OomScoreAdj\":0,\"PidMode\":\"\",\"Privileged\":false,\"PublishAllPorts\":false,"
    "\"ReadonlyRootfs\":false,\"SecurityOpt\":null,\"UTSMode\":\"\",\"UsernsMode\":\"\",\"Shm"
    "Size\":0,\"Isolation\":\"\",\"CpuShares\":0,\"Memory\":0,\"NanoCpus\":0,\"CgroupParent\""
    ":\"\",\"BlkioWeight\":0,\"BlkioWeightDevice\":[],\"BlkioDeviceReadBps\":[],\"BlkioDevice"
    "WriteBps\":[],\"BlkioDeviceReadIOps\":[],\"BlkioDeviceWriteIOps\":[],\"CpuPeriod\":0,\"C"
    "puQuota\":0,\"CpuRealtimePeriod\":0,\"CpuRealtimeRuntime\":0,\"CpusetCpus\":\"\",\"Cpuse"
    "tMems\":\"\",\"Devices\":[],\"DeviceCgroupRules\":null,\"DeviceRequests\":null,\"MemoryR"
    "eservation\":0,\"MemorySwap\":0,\"MemorySwappiness\":-1,\"OomKillDisable\":false,\"PidsL"
    "imit\":0,\"Ulimits\":[],\"CpuCount\":0,\"CpuPercent\":0,\"IOMaximumIOps\":0,\"IOMaximumB"
    "andwidth\":0,\"MaskedPaths\":null,\"ReadonlyPaths\":null},\"NetworkingConfig\":{\"Endpoi"
    "ntsConfig\":{\"default\":{\"IPAMConfig\":null,\"Links\":null,\"Aliases\":null,\"MacAddre"
    "ss\":\"\",\"DriverOpts\":null,\"GwPriority\":0,\"NetworkID\":\"\",\"EndpointID\":\"\",\""
    "Gateway\":\"\",\"IPAddress\":\"\",\"IPPrefixLen\":0,\"IPv6Gateway\":\"\",\"GlobalIPv6Add"
    "ress\":\"\",\"GlobalIPv6PrefixLen\":0,\"DNSNames\":null}}}}";

/* Parse a run command line (argv after "run") and build the body; NULL and *msg on error. */
static char *body_of(unsigned rows, unsigned cols, char **msg, ...)
{
        char *argv[64];
        int argc = 0;
        va_list ap;
        va_start(ap, msg);
        for (char *a; (a = va_arg(ap, char *));)
                argv[argc++] = a;
        va_end(ap);
        struct cli_flagset fs;
        struct berth_error *err = NULL;
        char *out = NULL;
        if (cli_flags_parse(&fs, container_run_flags, container_run_n_flags, argc, argv,
                            CLI_PARSE_STOP_AT_ARG, &err) == 0) {
                struct container_config cfg;
                if (container_config_parse(&fs, rows, cols, &cfg, &err) == 0) {
                        out = json_dump(cfg.body, 0);
                        container_config_release(&cfg);
                }
        }
        if (msg)
                *msg = err ? xstrdup(err->msg) : NULL;
        berth_error_free(err);
        cli_flags_release(&fs);
        return out;
}

START_TEST(test_captured_bodies)
{
        char *b = body_of(40, 120, NULL, "-it", "--network", "none", "busybox", "sh", NULL);
        ck_assert_str_eq(b, BODY_RUN_IT);
        free(b);
        b = body_of(0, 0, NULL, "--rm", "--network", "none", "busybox", "sh", "-c",
                    "echo out; echo err >&2; exit 7", NULL);
        ck_assert_str_eq(b, BODY_RUN_RM_SH);
        free(b);
        /* no --network: the "default" endpoint docker 28 sends */
        b = body_of(0, 0, NULL, "--rm", "busybox", "echo", "hi", NULL);
        ck_assert_str_eq(b, BODY_RUN_DEFAULT_NET);
        free(b);
}
END_TEST

static bool has(const char *body, const char *piece)
{
        return strstr(body, piece) != NULL;
}

START_TEST(test_flags_in_body)
{
        setenv("BERTH_TEST_FROM_ENV", "val", 1);
        unsetenv("BERTH_TEST_UNSET");
        char *b =
            body_of(0, 0, NULL, "-e", "A=1", "-e", "BERTH_TEST_FROM_ENV", "-e", "BERTH_TEST_UNSET",
                    "-e", "A=2", "-l", "z=1", "-l", "a", "-w", "/w", "-u", "nobody", "--entrypoint",
                    "", "-h", "h1", "--cap-add", "net_admin", "--cap-add", "CAP_NET_ADMIN",
                    "--cap-drop", "all", "--restart", "on-failure:3", "-m", "64m", "--memory-swap",
                    "-1", "--cpus", "1.5", "--pids-limit", "100", "--ulimit", "nofile=1024:2048",
                    "--ulimit", "core=0", "--stop-timeout", "5", "--init", "busybox", NULL);
        ck_assert_ptr_nonnull(b);
        ck_assert(has(b, "\"Env\":[\"A=2\",\"BERTH_TEST_FROM_ENV=val\",\"BERTH_TEST_UNSET\"]"));
        ck_assert(has(b, "\"Labels\":{\"a\":\"\",\"z\":\"1\"}"));
        ck_assert(has(b, "\"Entrypoint\":[\"\"]"));
        ck_assert(has(b, "\"CapAdd\":[\"CAP_NET_ADMIN\"],\"CapDrop\":[\"ALL\"]"));
        ck_assert(has(b, "\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":3}"));
        ck_assert(has(b, "\"Memory\":67108864,\"NanoCpus\":1500000000"));
        ck_assert(has(b, "\"MemorySwap\":-1"));
        ck_assert(has(b, "\"PidsLimit\":100,\"Ulimits\":[{\"Name\":\"core\",\"Hard\":0,\"Soft\":0},"
                         "{\"Name\":\"nofile\",\"Hard\":2048,\"Soft\":1024}]"));
        ck_assert(has(b, "\"StopTimeout\":5}") || has(b, "\"StopTimeout\":5,"));
        ck_assert(has(b, "\"Init\":true}"));
        free(b);

        b = body_of(0, 0, NULL, "-p", "8080:80", "-p", "127.0.0.1:9000-9001:90-91/udp", "--expose",
                    "7000-7001", "-v", "/data", "-v", "/tmp:/h:ro", "--tmpfs", "/run:size=1m",
                    "--mount", "type=bind,src=/tmp,dst=/b,readonly", "--dns", "8.8.8.8",
                    "--add-host", "bar=::1", "busybox", NULL);
        ck_assert_ptr_nonnull(b);
        ck_assert(has(b, "\"ExposedPorts\":{\"7000/tcp\":{},\"7001/tcp\":{},\"80/tcp\":{},"
                         "\"90/udp\":{},\"91/udp\":{}}"));
        ck_assert(has(b, "\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}],"
                         "\"90/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"9000\"}],"
                         "\"91/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"9001\"}]}"));
        ck_assert(has(b, "\"Volumes\":{\"/data\":{}}"));
        ck_assert(has(b, "\"Binds\":[\"/tmp:/h:ro\"]"));
        ck_assert(has(b, "\"Tmpfs\":{\"/run\":\"size=1m\"}"));
        ck_assert(has(b, "\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/tmp\",\"Target\":\"/b\","
                         "\"ReadOnly\":true}]"));
        ck_assert(has(b, "\"Dns\":[\"8.8.8.8\"]"));
        ck_assert(has(b, "\"ExtraHosts\":[\"bar:::1\"]"));
        free(b);
}
END_TEST

START_TEST(test_errors)
{
        char *msg = NULL;
        /* while parsing flags: pflag's form */
        ck_assert_ptr_null(body_of(0, 0, &msg, "-a", "foo", "busybox", NULL));
        ck_assert_str_eq(msg, "invalid argument \"foo\" for \"-a, --attach\" flag: valid streams "
                              "are STDIN, STDOUT and STDERR");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "-m", "1x", "busybox", NULL));
        ck_assert_str_eq(msg, "invalid argument \"1x\" for \"-m, --memory\" flag: invalid suffix: "
                              "'x'");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "--cpus", "abc", "busybox", NULL));
        ck_assert_str_eq(msg, "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc "
                              "as a rational number");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "-e", "=x", "busybox", NULL));
        ck_assert_str_eq(msg, "invalid argument \"=x\" for \"-e, --env\" flag: invalid environment "
                              "variable: =x");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "--ulimit", "nofile=2:1", "busybox", NULL));
        ck_assert_str_eq(msg, "invalid argument \"nofile=2:1\" for \"--ulimit\" flag: ulimit soft "
                              "limit must be less than or equal to hard limit: 2 > 1");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "--mount", "type=bind", "busybox", NULL));
        ck_assert_str_eq(msg,
                         "invalid argument \"type=bind\" for \"--mount\" flag: target is required");
        free(msg);
        /* in docker's parse() */
        ck_assert_ptr_null(body_of(0, 0, &msg, "--rm", "--restart", "always", "busybox", NULL));
        ck_assert_str_eq(msg, "conflicting options: cannot specify both --restart and --rm");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "-p", "70000:80", "busybox", NULL));
        ck_assert_str_eq(msg, "invalid hostPort: 70000");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "--expose", "80:80", "busybox", NULL));
        ck_assert_str_eq(msg, "invalid port format for --expose: 80:80");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "--memory-swappiness", "200", "busybox", NULL));
        ck_assert_str_eq(msg, "invalid value: 200. Valid memory swappiness range is 0-100");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "--env-file", "/nonexistent/env", "busybox", NULL));
        ck_assert_str_eq(msg, "open /nonexistent/env: no such file or directory");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "--mac-address", "xx", "busybox", NULL));
        ck_assert_str_eq(msg, "xx is not a valid mac address");
        free(msg);
        ck_assert_ptr_null(
            body_of(0, 0, &msg, "--log-driver", "none", "--log-opt", "a=b", "busybox", NULL));
        ck_assert_str_eq(msg, "invalid logging opts for driver none");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "--security-opt", "foo", "busybox", NULL));
        ck_assert_str_eq(msg, "Invalid --security-opt: \"foo\"");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "-v", "/a::/b", "busybox", NULL));
        ck_assert_str_eq(msg, "invalid spec: /a::/b: empty section between colons");
        free(msg);
        ck_assert_ptr_null(body_of(0, 0, &msg, "--device", "/dev/sda:rx", "busybox", NULL));
        ck_assert_str_eq(msg, "rx is not an absolute path");
        free(msg);
}
END_TEST

START_TEST(test_values)
{
        int64_t v;
        ck_assert_int_eq(container_parse_cpus("0.5", &v, NULL), 0);
        ck_assert_int_eq(v, 500000000);
        ck_assert_int_eq(container_parse_cpus("3/2", &v, NULL), 0);
        ck_assert_int_eq(v, 1500000000);
        ck_assert_int_eq(container_parse_cpus("1e-3", &v, NULL), 0);
        ck_assert_int_eq(v, 1000000);
        struct berth_error *e = NULL;
        ck_assert_int_lt(container_parse_cpus("0.0000000001", &v, &e), 0);
        ck_assert_str_eq(e->msg, "value is too precise");
        berth_error_freep(&e);

        ck_assert_int_eq(container_parse_duration("1m30s", &v, NULL), 0);
        ck_assert_int_eq(v, 90000000000LL);
        ck_assert_int_eq(container_parse_duration("1.5h", &v, NULL), 0);
        ck_assert_int_eq(v, 5400000000000LL);
        ck_assert_int_lt(container_parse_duration("10", &v, &e), 0);
        ck_assert_str_eq(e->msg, "time: missing unit in duration \"10\"");
        berth_error_freep(&e);
        ck_assert_int_lt(container_parse_duration("3x", &v, &e), 0);
        ck_assert_str_eq(e->msg, "time: unknown unit \"x\" in duration \"3x\"");
        berth_error_freep(&e);

        char *ts = NULL;
        ck_assert_int_eq(container_timestamp("42m", 1000000, &ts, NULL), 0);
        ck_assert_str_eq(ts, "997480");
        free(ts);
        ck_assert_int_eq(container_timestamp("2013-01-02T13:23:37Z", 0, &ts, NULL), 0);
        ck_assert_str_eq(ts, "1357133017.000000000");
        free(ts);
        ck_assert_int_eq(container_timestamp("1700000000.5", 0, &ts, NULL), 0);
        ck_assert_str_eq(ts, "1700000000.5");
        free(ts);
        ck_assert_int_lt(container_timestamp("soon", 0, &ts, &e), 0);
        ck_assert_str_eq(e->msg, "failed to parse value as time or duration: \"soon\"");
        berth_error_freep(&e);

        char *name = NULL;
        int64_t soft, hard;
        ck_assert_int_eq(container_parse_ulimit("nproc=10", &name, &soft, &hard, NULL), 0);
        ck_assert_str_eq(name, "nproc");
        ck_assert_int_eq(soft, 10);
        ck_assert_int_eq(hard, 10);
        free(name);
        ck_assert_int_lt(container_parse_ulimit("bogus=1", &name, &soft, &hard, &e), 0);
        ck_assert_str_eq(e->msg, "invalid ulimit type: bogus");
        berth_error_freep(&e);

        char *bind = NULL;
        ck_assert_int_eq(container_parse_volume("/data", &bind, NULL), 0);
        ck_assert_int_eq(container_parse_volume("vol:/data", &bind, NULL), 1);
        ck_assert_str_eq(bind, "vol:/data");
        free(bind);
        ck_assert_int_eq(container_parse_volume("/a:/b:ro", &bind, NULL), 1);
        ck_assert_str_eq(bind, "/a:/b:ro");
        free(bind);
        ck_assert_int_lt(container_parse_volume("/a:/b:ro:x", &bind, &e), 0);
        ck_assert_str_eq(e->msg, "invalid spec: /a:/b:ro:x: too many colons");
        berth_error_freep(&e);

        char **f = NULL;
        ck_assert_int_eq(container_csv_fields("a,\"b,c\",\"d\"\"e\"", &f, NULL), 0);
        ck_assert_str_eq(f[0], "a");
        ck_assert_str_eq(f[1], "b,c");
        ck_assert_str_eq(f[2], "d\"e");
        ck_assert_ptr_null(f[3]);
        strv_free(f);

        struct json *g = NULL;
        ck_assert_int_eq(container_parse_gpus("all", &g, NULL), 0);
        char *s = json_dump(g, 0);
        ck_assert_str_eq(s, "{\"Driver\":\"\",\"Count\":-1,\"DeviceIDs\":null,\"Capabilities\":[["
                            "\"gpu\"]],\"Options\":{}}");
        free(s);
        json_free(g);
        ck_assert_int_eq(container_parse_gpus("\"device=1,2\",capabilities=compute", &g, NULL), 0);
        s = json_dump(g, 0);
        ck_assert_str_eq(s, "{\"Driver\":\"\",\"Count\":0,\"DeviceIDs\":[\"1\",\"2\"],"
                            "\"Capabilities\":[[\"compute\",\"gpu\"]],\"Options\":{}}");
        free(s);
        json_free(g);

        struct json *m = NULL;
        ck_assert_int_eq(container_parse_mount("type=volume,target=/v,volume-label=b=2,"
                                               "volume-label=a=1,volume-nocopy",
                                               &m, NULL),
                         0);
        s = json_dump(m, 0);
        ck_assert_str_eq(s, "{\"Type\":\"volume\",\"Target\":\"/v\",\"VolumeOptions\":{\"NoCopy\":"
                            "true,\"Labels\":{\"a\":\"1\",\"b\":\"2\"},\"DriverConfig\":{}}}");
        free(s);
        json_free(m);
        ck_assert_int_lt(
            container_parse_mount("type=tmpfs,target=/t,bind-propagation=shared", &m, &e), 0);
        ck_assert_str_eq(e->msg, "cannot mix 'bind-*' options with mount type 'tmpfs'");
        berth_error_freep(&e);

        char *ip = container_ip_canonical("::ffff:1.2.3.4");
        ck_assert_str_eq(ip, "1.2.3.4");
        free(ip);
        ip = container_ip_canonical("2001:0db8:0:0:0:0:0:1");
        ck_assert_str_eq(ip, "2001:db8::1");
        free(ip);
        ck_assert_ptr_null(container_ip_canonical("1.2.3"));
}
END_TEST

int main(void)
{
        Suite *s = suite_create("container-opts");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_captured_bodies);
        tcase_add_test(tc, test_flags_in_body);
        tcase_add_test(tc, test_errors);
        tcase_add_test(tc, test_values);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
