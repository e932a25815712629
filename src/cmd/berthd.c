/*
 * berthd.c — the daemon's main: flags, configuration, pid file, engine, API
 * listeners, signals.
 *
 * Start-up order: parse flags; load and validate the configuration (a bad
 * daemon.json is one line on stderr and exit 1, as dockerd); claim the pid
 * file, the exec root and the data root (each locked: refused, naming the
 * pid, when another berthd holds it); open the engine (data root, database,
 * store check); listen on every -H socket (refuse when another daemon answers
 * there, replace a stale socket); then run the event loop.  SIGTERM/SIGINT
 * stop the loop (listeners close, requests finish or are cut after a grace
 * period), then sockets and the pid file are removed and berthd exits 0.
 * SIGHUP re-reads daemon.json and applies the reloadable keys, logging what
 * changed.  Signals arrive through a signalfd watched by the loop, so no code
 * runs in signal context.
 *
 * Memory: malloc is told to serve big blocks by mmap and to use two arenas, so
 * the daemon returns to a few MB of RSS after large requests.
 *
 * Never: leave the pid file or a socket behind on a clean exit, exit without
 * a message on a start-up error.
 */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "api/handlers.h"
#include "api/server.h"
#include "base/buf.h"
#include "base/crashpoint.h"
#include "base/fileio.h"
#include "base/lockfile.h"
#include "base/log.h"
#include "base/version.h"
#include "cli/flags.h"
#include "engine/build.h"
#include "engine/config.h"
#include "engine/containers.h"
#include "engine/engine.h"
#include "engine/layers.h"
#include "engine/networks.h"

static const struct cli_flag daemon_flags[] = {
    {"bip", 0, CLI_FLAG_STRING, "Specify network bridge IP", NULL, NULL, false},
    {"bridge", 'b', CLI_FLAG_STRING, "Attach containers to a network bridge", NULL, NULL, false},
    {"cgroup-parent", 0, CLI_FLAG_STRING, "Set parent cgroup for all containers", "/berth", NULL,
     false},
    {"config-file", 0, CLI_FLAG_STRING, "Daemon configuration file", BERTH_DEFAULT_CONFIG_FILE,
     NULL, false},
    {"data-root", 0, CLI_FLAG_STRING, "Root directory of persistent Berth state",
     BERTH_DEFAULT_DATA_ROOT, NULL, false},
    {"debug", 'D', CLI_FLAG_BOOL, "Enable debug mode", NULL, NULL, false},
    {"default-address-pool", 0, CLI_FLAG_LIST,
     "Default address pools for node specific local networks", NULL, "pool-options", false},
    {"dns", 0, CLI_FLAG_LIST, "DNS server to use", NULL, NULL, false},
    {"dns-opt", 0, CLI_FLAG_LIST, "DNS options to use", NULL, NULL, false},
    {"dns-search", 0, CLI_FLAG_LIST, "DNS search domains to use", NULL, NULL, false},
    {"exec-root", 0, CLI_FLAG_STRING, "Root directory for execution state files",
     BERTH_DEFAULT_EXEC_ROOT, NULL, false},
    {"fixed-cidr", 0, CLI_FLAG_STRING, "IPv4 subnet for fixed IPs", NULL, NULL, false},
    {"group", 'G', CLI_FLAG_STRING, "Group for the unix socket", "berth", NULL, false},
    {"host", 'H', CLI_FLAG_LIST, "Daemon socket(s) to connect to", NULL, NULL, false},
    {"icc", 0, CLI_FLAG_BOOL, "Enable inter-container communication", "true", NULL, false},
    {"insecure-registry", 0, CLI_FLAG_LIST, "Enable insecure registry communication", NULL, NULL,
     false},
    {"ip-forward", 0, CLI_FLAG_BOOL, "Enable net.ipv4.ip_forward", "true", NULL, false},
    {"ip-masq", 0, CLI_FLAG_BOOL, "Enable IP masquerading", "true", NULL, false},
    {"iptables", 0, CLI_FLAG_BOOL, "Enable addition of firewall (nftables) rules", "true", NULL,
     false},
    {"log-level", 'l', CLI_FLAG_STRING,
     "Set the logging level (\"debug\"|\"info\"|\"warn\"|\"error\"|\"fatal\")", "info", NULL,
     false},
    {"max-concurrent-downloads", 0, CLI_FLAG_INT, "Set the max concurrent downloads for each pull",
     "3", NULL, false},
    {"mtu", 0, CLI_FLAG_INT, "Set the containers network MTU", NULL, NULL, false},
    {"pidfile", 'p', CLI_FLAG_STRING,
     "Path to use for daemon PID file (default \"<exec-root>/berthd.pid\")", NULL, NULL, false},
    {"registry-mirror", 0, CLI_FLAG_LIST, "Preferred registry mirror", NULL, NULL, false},
    {"userland-proxy", 0, CLI_FLAG_BOOL,
     "Serve published ports with a userland proxy when --iptables=false", "true", NULL, false},
    {"version", 'v', CLI_FLAG_BOOL, "Print version information and quit", NULL, NULL, false},
};

struct daemon {
        struct api_server *srv;
        struct berth_engine *engine;
        int sigfd;
};

static void usage(FILE *f)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, "Usage:  berthd [OPTIONS]\n\nA self-sufficient runtime for containers.\n\n"
                     "Options:\n");
        cli_flags_usage(&b, daemon_flags, ELEMENTSOF(daemon_flags));
        fputs(b.data, f);
        buf_release(&b);
}

static void apply_log_level(const struct berth_config *c)
{
        enum berth_log_level lvl = BERTH_LOG_INFO;
        (void)berth_log_level_from_string(c->log_level, &lvl);
        berth_log_set_level(lvl);
}

static void on_signal(struct api_server *srv, int fd, void *userdata)
{
        struct daemon *d = userdata;
        struct signalfd_siginfo si;
        while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                        _cleanup_error_ struct berth_error *err = NULL;
                        char **changes = NULL;
                        if (berth_engine_reload(d->engine, &changes, &err) < 0) {
                                log_error("reload: %s (keeping the running configuration)",
                                          berth_error_msg(err));
                                continue;
                        }
                        _cleanup_config_ struct berth_config *c = berth_engine_config(d->engine);
                        apply_log_level(c);
                        if (!changes || !changes[0])
                                log_info("reloaded configuration: no changes");
                        for (size_t i = 0; changes && changes[i]; i++)
                                log_info("reloaded configuration: %s", changes[i]);
                        strv_free(changes);
                } else {
                        log_info("processing signal '%s'", strsignal((int)si.ssi_signo));
                        /* Event subscribers end their streams now instead of at the grace
                         * period's end. */
                        berth_events_close(d->engine->events);
                        api_server_stop(srv);
                }
        }
}

/*
 * One daemon per pid file, exec root and data root: each is claimed with an
 * exclusive lock (base/lockfile.h) before anything there is opened, so a
 * second berthd on any of them stops with the pid of the one that holds it.
 * The pid file is the pid file docker users know; the roots get a berthd.lock.
 * The fds stay open (O_CLOEXEC) for the daemon's life.
 */
static int claim(const char *path, const char *what, const char *flag, int *ret_fd,
                 struct berth_error **err)
{
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                (void)mkdir_p(dir, 0711);
        }
        pid_t holder = 0;
        int r = lockfile_acquire(path, ret_fd, &holder, err);
        if (r != -EBUSY)
                return r;
        if (holder > 0)
                return berth_error_set(err, EBUSY,
                                       "%s is in use by another berthd (pid %d): stop that one "
                                       "first, or give this one its own %s",
                                       what, (int)holder, flag);
        return berth_error_set(err, EBUSY,
                               "%s is in use by another berthd: stop that one first, or give "
                               "this one its own %s",
                               what, flag);
}

static int claim_roots(const struct berth_config *c, int fds[3], struct berth_error **err)
{
        _cleanup_free_ char *pid_what = xasprintf("pid file '%s'", c->pidfile);
        _cleanup_free_ char *exec_lock = xasprintf("%s/berthd.lock", c->exec_root);
        _cleanup_free_ char *exec_what = xasprintf("exec root '%s'", c->exec_root);
        _cleanup_free_ char *data_lock = xasprintf("%s/berthd.lock", c->data_root);
        _cleanup_free_ char *data_what = xasprintf("data root '%s'", c->data_root);
        int r = claim(c->pidfile, pid_what, "--pidfile", &fds[0], err);
        if (r == 0)
                r = claim(exec_lock, exec_what, "--exec-root", &fds[1], err);
        if (r == 0)
                r = claim(data_lock, data_what, "--data-root", &fds[2], err);
        return r;
}

static void config_flags_from(const struct cli_flagset *fs, struct berth_config_flags *f)
{
        berth_config_flags_init(f);
#define STRFLAG(name, field)                                                                       \
        if (cli_flag_is_set(fs, name))                                                             \
                f->field = cli_flag_string(fs, name);
        STRFLAG("config-file", config_file);
        STRFLAG("data-root", data_root);
        STRFLAG("exec-root", exec_root);
        STRFLAG("pidfile", pidfile);
        STRFLAG("log-level", log_level);
        STRFLAG("cgroup-parent", cgroup_parent);
        STRFLAG("bridge", bridge);
        STRFLAG("bip", bip);
        STRFLAG("fixed-cidr", fixed_cidr);
#undef STRFLAG
        f->hosts = cli_flag_list(fs, "host");
        f->registry_mirrors = cli_flag_list(fs, "registry-mirror");
        f->insecure_registries = cli_flag_list(fs, "insecure-registry");
        if (cli_flag_is_set(fs, "max-concurrent-downloads"))
                f->max_concurrent_downloads = (int)cli_flag_int(fs, "max-concurrent-downloads");
        if (cli_flag_is_set(fs, "debug"))
                f->debug = cli_flag_bool(fs, "debug");
        f->dns = cli_flag_list(fs, "dns");
        f->dns_search = cli_flag_list(fs, "dns-search");
        f->dns_opts = cli_flag_list(fs, "dns-opt");
        f->address_pools = cli_flag_list(fs, "default-address-pool");
        if (cli_flag_is_set(fs, "mtu"))
                f->mtu = (int)cli_flag_int(fs, "mtu");
#define BOOLFLAG(name, field)                                                                      \
        if (cli_flag_is_set(fs, name))                                                             \
                f->field = cli_flag_bool(fs, name);
        BOOLFLAG("icc", icc);
        BOOLFLAG("ip-forward", ip_forward);
        BOOLFLAG("ip-masq", ip_masq);
        BOOLFLAG("iptables", iptables);
        BOOLFLAG("userland-proxy", userland_proxy);
#undef BOOLFLAG
}

static int run(const struct cli_flagset *fs)
{
        struct berth_config_flags flags;
        config_flags_from(fs, &flags);
        if (flags.max_concurrent_downloads < -1) {
                fprintf(stderr, "invalid max concurrent downloads: %d\n",
                        flags.max_concurrent_downloads);
                return 1;
        }
        if (cli_flag_is_set(fs, "mtu") && flags.mtu < 0) {
                fprintf(stderr, "invalid MTU %d: it must be 68 to 65535\n", flags.mtu);
                return 1;
        }

        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_config_ struct berth_config *config = NULL;
        if (berth_config_load(&flags, &config, &err) < 0) {
                fprintf(stderr, "%s\n", berth_error_msg(err));
                return 1;
        }
        apply_log_level(config);
        log_info("starting berthd %s (build %s), data root %s", berth_version, berth_git_commit,
                 config->data_root);

        /* Signals first: a SIGTERM during start-up must still clean up. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        _cleanup_close_ int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sigfd < 0) {
                fprintf(stderr, "signalfd: %s\n", strerror(errno));
                return 1;
        }

        int r = mkdir_p(config->exec_root, 0711);
        if (r < 0) {
                fprintf(stderr, "create exec root '%s': %s\n", config->exec_root, strerror(-r));
                return 1;
        }
        r = mkdir_p(config->data_root, 0711);
        if (r < 0) {
                fprintf(stderr, "create data root '%s': %s\n", config->data_root, strerror(-r));
                return 1;
        }
        int lock_fds[3] = {-EBADF, -EBADF, -EBADF};
        if (claim_roots(config, lock_fds, &err) < 0) {
                fprintf(stderr, "failed to start daemon: %s\n", berth_error_msg(err));
                /* The pid file is ours to remove only while we hold its lock. */
                if (lock_fds[0] >= 0)
                        (void)unlink(config->pidfile);
                for (size_t i = 0; i < ELEMENTSOF(lock_fds); i++)
                        if (lock_fds[i] >= 0)
                                close(lock_fds[i]);
                return 1;
        }

        struct daemon d = {.sigfd = sigfd};
        int code = 1;
        _cleanup_free_ char *server_header = xasprintf("Berth/%s (linux)", berth_version);
        struct api_server_config sc = {.server_header = server_header};
        if (berth_engine_open(config, &flags, &d.engine, &err) < 0 ||
            api_server_new(&sc, &d.srv, &err) < 0) {
                fprintf(stderr, "%s\n", berth_error_msg(err));
                goto out;
        }
        api_register_system(d.srv, d.engine);
        if (berth_layers_open(d.engine, &d.engine->layers, &err) < 0) {
                fprintf(stderr, "%s\n", berth_error_msg(err));
                goto out;
        }
        if (berth_networks_open(d.engine, &err) < 0) {
                fprintf(stderr, "%s\n", berth_error_msg(err));
                goto out;
        }
        if (berth_containers_open(d.engine, &err) < 0) {
                fprintf(stderr, "%s\n", berth_error_msg(err));
                goto out;
        }
        berth_build_cleanup(d.engine);
        api_register_containers(d.srv, d.engine);
        api_register_container_archive(d.srv, d.engine);
        api_register_commit(d.srv, d.engine);
        api_register_volumes(d.srv, d.engine);
        api_register_networks(d.srv, d.engine);
        api_register_build(d.srv, d.engine);
        api_register_images(d.srv, d.engine);
        api_register_archive(d.srv, d.engine);
        api_register_events(d.srv, d.engine);
        api_register_auth(d.srv, d.engine);
        if (api_server_watch_fd(d.srv, sigfd, on_signal, &d, &err) < 0) {
                fprintf(stderr, "%s\n", berth_error_msg(err));
                goto out;
        }
        const char *group = cli_flag_string(fs, "group");
        for (size_t i = 0; config->hosts[i]; i++) {
                if (api_server_listen_unix(d.srv, config->hosts[i], group, &err) < 0) {
                        fprintf(stderr, "%s\n", berth_error_msg(err));
                        goto out;
                }
                log_info("API listen on %s", config->hosts[i]);
        }
        log_info("daemon has completed initialization");
        if (api_server_run(d.srv, &err) < 0) {
                log_error("%s", berth_error_msg(err));
                goto out;
        }
        code = 0;
        if (api_server_open_streams(d.srv) > 0) {
                /* A worker still holds a stream (and may touch the engine): leave the
                 * freeing to the kernel at exit rather than pull memory from under it. */
                (void)unlink(config->pidfile);
                log_info("daemon shutdown complete (%zu streams cut)",
                         api_server_open_streams(d.srv));
                _exit(0);
        }
out:
        api_server_free(d.srv); /* closes and removes the sockets */
        if (d.engine) {
                /* the firewall table goes with the daemon unless containers still use it */
                int total = 0, running = 1, paused = 0, stopped = 0;
                if (d.engine->containers)
                        berth_ctr_counts(d.engine, &total, &running, &paused, &stopped);
                else
                        running = 0;
                berth_containers_close(d.engine); /* containers keep running */
                berth_networks_close(d.engine, running + paused == 0);
                berth_layers_free(d.engine->layers);
        }
        berth_engine_free(d.engine);
        (void)unlink(config->pidfile);
        if (code == 0)
                log_info("daemon shutdown complete");
        return code;
}

/* One fd per shim and per exec connection and stream: lift the soft limit to the hard one. */
static void raise_nofile(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char **argv)
{
        crashpoint_init();
        raise_nofile();
        /* Small idle footprint: big buffers (request bodies, JSON replies) come from mmap
         * and go back to the kernel when freed; worker threads share two arenas. */
        mallopt(M_MMAP_THRESHOLD, 64 * 1024);
        mallopt(M_ARENA_MAX, 2);
        struct cli_flagset fs;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_flags_parse(&fs, daemon_flags, ELEMENTSOF(daemon_flags), argc - 1, argv + 1,
                            CLI_PARSE_INTERSPERSED, &err) < 0) {
                fprintf(stderr, "%s\nSee 'berthd --help'.\n", berth_error_msg(err));
                cli_flags_release(&fs);
                return 125;
        }
        int code;
        if (fs.help) {
                usage(stdout);
                code = 0;
        } else if (cli_flag_bool(&fs, "version")) {
                printf("Berth version %s, build %s\n", berth_version, berth_git_commit);
                code = 0;
        } else if (fs.n_args > 0) {
                fprintf(stderr, "\"berthd\" accepts no argument(s).\nSee 'berthd --help'.\n");
                code = 125;
        } else {
                code = run(&fs);
        }
        cli_flags_release(&fs);
        return code;
}
