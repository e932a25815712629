/*
 * test-oci-spec.c — config.json parsing: runc's default and a config using
 * every field of the spec load into the right struct values; every kind of
 * mistake is refused with one message naming the JSON path; truncated input
 * never crashes and always fails; `spec` writes what runc writes.
 *
 * JSON in this file is written with ' for " (see J()) to stay readable.
 */
#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "oci/runtime-spec.h"

/* What runc 1.1.5 writes for `runc spec` and `runc spec --rootless` (as root). */
static const char runc_spec[] =
    "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},"
    "\"a"
    "rgs\":[\"sh\"],\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin"
    ":/bin\",\"TERM=xterm\"],\"cwd\":\"/\",\"capabilities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CA"
    "P_KILL\",\"CAP_NET_BIND_SERVICE\"],\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_N"
    "ET_BIND_SERVICE\"],\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVIC"
    "E\"],\"ambient\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},\"rlimits\":["
    "{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],\"noNewPrivileges\":true},\"root\""
    ":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"runc\",\"mounts\":[{\"destination\":"
    "\"/"
    "proc\",\"type\":\"proc\",\"source\":\"proc\"},{\"destination\":\"/"
    "dev\",\"type\":\"tmpfs\",\"sourc"
    "e\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},{\"destin"
    "ation\":\"/dev/"
    "pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\""
    ",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},{\"destination\":\"/dev/shm\",\""
    "type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode="
    "1777\",\"s"
    "ize=65536k\"]},{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"op"
    "tions\":[\"nosuid\",\"noexec\",\"nodev\"]},{\"destination\":\"/"
    "sys\",\"type\":\"sysfs\",\"source"
    "\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},{\"destination\":\"/sys/fs/"
    "cg"
    "roup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"nosuid\",\"noexec\",\"nodev\","
    "\"re"
    "latime\",\"ro\"]}],\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}"
    "]"
    "},\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":"
    "\"uts\"},"
    "{\"type\":\"mount\"}],\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/pro"
    "c/keys\",\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sche"
    "d_debug\",\"/sys/firmware\",\"/proc/scsi\"],\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\""
    "/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]}}";

static const char runc_spec_rootless[] =
    "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},"
    "\"a"
    "rgs\":[\"sh\"],\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin"
    ":/bin\",\"TERM=xterm\"],\"cwd\":\"/\",\"capabilities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CA"
    "P_KILL\",\"CAP_NET_BIND_SERVICE\"],\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_N"
    "ET_BIND_SERVICE\"],\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVIC"
    "E\"],\"ambient\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},\"rlimits\":["
    "{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],\"noNewPrivileges\":true},\"root\""
    ":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"runc\",\"mounts\":[{\"destination\":"
    "\"/"
    "proc\",\"type\":\"proc\",\"source\":\"proc\"},{\"destination\":\"/"
    "dev\",\"type\":\"tmpfs\",\"sourc"
    "e\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},{\"destin"
    "ation\":\"/dev/"
    "pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\""
    ",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]},{\"destination\":\"/dev/shm\",\"type\":\"t"
    "mpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size="
    "6553"
    "6k\"]},{\"destination\":\"/dev/"
    "mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":["
    "\"nosuid\",\"noexec\",\"nodev\"]},{\"destination\":\"/sys\",\"type\":\"none\",\"source\":\"/"
    "sys\","
    "\"options\":[\"rbind\",\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},{\"destination\":\"/sys/fs/"
    "cgro"
    "up\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"nosuid\",\"noexec\",\"nodev\","
    "\"rela"
    "time\",\"ro\"]}],\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":1}],\"gi"
    "dMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":1}],\"namespaces\":[{\"type\":\"pid\"},"
    "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"user\"}],"
    "\"maskedPaths\":[\""
    "/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\",\"/pr"
    "oc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\",\"/sys/firmware\",\"/proc/sc"
    "si\"],\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysr"
    "q-trigger\"]}}";

static const char full_config[] =
    "{'ociVersion':'1.1.0',"
    "'process':{'terminal':true,'consoleSize':{'height':25,'width':80},"
    "'user':{'uid':1000,'gid':1001,'umask':18,'additionalGids':[5,6,4294967295],'username':'u'},"
    "'args':['/bin/sh','-c','true'],'commandLine':'cmd','env':['A=1','B='],'cwd':'/work',"
    "'capabilities':{'bounding':['CAP_CHOWN','CAP_CHECKPOINT_RESTORE'],'effective':['CAP_KILL'],"
    "'inheritable':[],'permitted':['CAP_SYS_ADMIN','CAP_BPF'],'ambient':null},"
    "'rlimits':[{'type':'RLIMIT_NOFILE','hard':2048,'soft':1024},"
    "{'type':'RLIMIT_CORE','hard':18446744073709551615,'soft':0}],"
    "'noNewPrivileges':true,'apparmorProfile':'prof','oomScoreAdj':-500,"
    "'selinuxLabel':'system_u:system_r:svirt_lxc_net_t:s0',"
    "'ioPriority':{'class':'IOPRIO_CLASS_IDLE','priority':7},"
    "'scheduler':{'policy':'SCHED_DEADLINE','nice':-5,'priority':3,"
    "'flags':['SCHED_FLAG_RESET_ON_FORK'],'runtime':100,'deadline':200,'period':300}},"
    "'root':{'path':'/abs/rootfs','readonly':false},"
    "'hostname':'h','domainname':'example.org',"
    "'mounts':[{'destination':'/data','type':'bind','source':'/src',"
    "'options':['rbind','rprivate','idmap'],"
    "'uidMappings':[{'containerID':0,'hostID':100000,'size':65536}],"
    "'gidMappings':[{'containerID':0,'hostID':200000,'size':1000}]},{'destination':'rel'}],"
    "'hooks':{'prestart':[{'path':'/bin/p'}],"
    "'createRuntime':[{'path':'/bin/cr','args':['cr','x'],'env':['E=1'],'timeout':5}],"
    "'createContainer':[{'path':'/bin/cc'}],'startContainer':[{'path':'/bin/sc'}],"
    "'poststart':[{'path':'/bin/ps'}],'poststop':[{'path':'/bin/pst'},{'path':'/bin/pst2'}]},"
    "'annotations':{'org.example.a':'1','b':''},"
    "'linux':{'namespaces':[{'type':'pid'},{'type':'network','path':'/var/run/netns/x'},"
    "{'type':'mount'},{'type':'ipc'},{'type':'uts'},{'type':'user'},{'type':'cgroup'},"
    "{'type':'time','path':''}],"
    "'uidMappings':[{'containerID':0,'hostID':1000,'size':1},"
    "{'containerID':1,'hostID':100000,'size':65535}],"
    "'gidMappings':[{'containerID':0,'hostID':1000,'size':1}],"
    "'devices':[{'path':'/dev/fuse','type':'c','major':10,'minor':229,'fileMode':438,'uid':0,"
    "'gid':0},{'path':'/dev/fifo','type':'p'}],"
    "'cgroupsPath':'/berth/test',"
    "'resources':{'devices':[{'allow':false,'access':'rwm'},"
    "{'allow':true,'type':'c','major':10,'minor':229,'access':'rw'}],"
    "'memory':{'limit':536870912,'reservation':268435456,'swap':-1,'kernel':0,'kernelTCP':1024,"
    "'swappiness':60,'disableOOMKiller':true,'useHierarchy':false,'checkBeforeUpdate':true},"
    "'cpu':{'shares':512,'quota':-1,'burst':1000,'period':100000,'realtimeRuntime':950000,"
    "'realtimePeriod':1000000,'cpus':'0-1','mems':'0','idle':1},"
    "'pids':{'limit':-1},"
    "'blockIO':{'weight':500,'leafWeight':300,'weightDevice':[{'major':8,'minor':0,'weight':600},"
    "{'major':8,'minor':16,'leafWeight':200}],"
    "'throttleReadBpsDevice':[{'major':8,'minor':0,'rate':1048576}],"
    "'throttleWriteBpsDevice':[{'major':8,'minor':0,'rate':2097152}],"
    "'throttleReadIOPSDevice':[{'major':8,'minor':0,'rate':100}],"
    "'throttleWriteIOPSDevice':[{'major':8,'minor':0,'rate':200},{'major':8,'minor':16,'rate':300}]"
    "},"
    "'hugepageLimits':[{'pageSize':'2MB','limit':209715200},{'pageSize':'1GB','limit':0}],"
    "'network':{'classID':1048577,'priorities':[{'name':'eth0','priority':500},"
    "{'name':'lo','priority':1}]},"
    "'rdma':{'mlx5_1':{'hcaHandles':3,'hcaObjects':10000},'mlx4_0':{'hcaObjects':1}},"
    "'unified':{'memory.high':'max','io.weight':'default 100'}},"
    "'sysctl':{'net.ipv4.ip_forward':'1','kernel.shmmax':'4096'},"
    "'seccomp':{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':1,"
    "'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_X86'],'flags':['SECCOMP_FILTER_FLAG_LOG'],"
    "'listenerPath':'/run/l.sock','listenerMetadata':'meta',"
    "'syscalls':[{'names':['read','write'],'action':'SCMP_ACT_ALLOW'},"
    "{'names':['personality'],'action':'SCMP_ACT_ERRNO','errnoRet':38,"
    "'args':[{'index':0,'value':8,'op':'SCMP_CMP_EQ'},"
    "{'index':5,'value':255,'valueTwo':4,'op':'SCMP_CMP_MASKED_EQ'}]},"
    "{'names':['ptrace'],'action':'SCMP_ACT_KILL_PROCESS'}]},"
    "'rootfsPropagation':'rslave','maskedPaths':['/proc/kcore'],'readonlyPaths':['/proc/sys'],"
    "'mountLabel':'system_u:object_r:svirt_sandbox_file_t:s0',"
    "'timeOffsets':{'boottime':{'secs':-3600,'nanosecs':5},'monotonic':{'secs':86400}},"
    "'intelRdt':{'closID':'x'},'personality':{'domain':'LINUX32','flags':[]}}}";

/* ' -> " (no test input needs a real single quote). */
static char *J(const char *s)
{
        char *r = xstrdup(s);
        for (char *p = r; *p; p++)
                if (*p == '\'')
                        *p = '"';
        return r;
}

static struct oci_spec *parse_ok(const char *text)
{
        _cleanup_free_ char *s = J(text);
        struct berth_error *err = NULL;
        struct oci_spec *spec = NULL;
        int r = oci_spec_parse(s, strlen(s), &spec, &err);
        ck_assert_msg(r == 0, "parse failed: %s", berth_error_msg(err));
        ck_assert_ptr_nonnull(spec);
        berth_error_free(err);
        return spec;
}

/* Parse must fail; returns the message (caller frees). */
static char *parse_err(const char *text)
{
        _cleanup_free_ char *s = J(text);
        struct berth_error *err = NULL;
        struct oci_spec *spec = NULL;
        int r = oci_spec_parse(s, strlen(s), &spec, &err);
        ck_assert_msg(r < 0, "'%s' should not parse", s);
        ck_assert_ptr_null(spec);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(r, -err->code);
        char *m = xstrdup(err->msg);
        berth_error_free(err);
        return m;
}

#define CAPBIT(n) (UINT64_C(1) << (n))

START_TEST(test_runc_default_parses)
{
        struct oci_spec *s = parse_ok(runc_spec);
        ck_assert_str_eq(s->oci_version, "1.0.2-dev");
        struct oci_process *p = s->process;
        ck_assert(p->terminal);
        ck_assert_uint_eq(p->user.uid, 0);
        ck_assert(!p->user.has_umask);
        ck_assert_str_eq(p->args[0], "sh");
        ck_assert_ptr_null(p->args[1]);
        ck_assert_str_eq(p->env[1], "TERM=xterm");
        ck_assert_str_eq(p->cwd, "/");
        uint64_t want = CAPBIT(29) | CAPBIT(5) | CAPBIT(10); /* AUDIT_WRITE, KILL, NET_BIND */
        ck_assert(p->capabilities->set[OCI_CAP_BOUNDING] == want);
        ck_assert(p->capabilities->set[OCI_CAP_AMBIENT] == want);
        ck_assert(p->capabilities->has[OCI_CAP_PERMITTED]);
        ck_assert(!p->capabilities->has[OCI_CAP_INHERITABLE]);
        ck_assert_uint_eq(p->n_rlimits, 1);
        ck_assert_int_eq(p->rlimits[0].resource, RLIMIT_NOFILE);
        ck_assert_str_eq(p->rlimits[0].type, "RLIMIT_NOFILE");
        ck_assert(p->rlimits[0].hard == 1024 && p->rlimits[0].soft == 1024);
        ck_assert(p->no_new_privileges);
        ck_assert(!p->has_oom_score_adj);
        ck_assert_str_eq(s->root->path, "rootfs");
        ck_assert(s->root->readonly);
        ck_assert_str_eq(s->hostname, "runc");
        ck_assert_ptr_null(s->domainname);
        ck_assert_uint_eq(s->n_mounts, 7);
        ck_assert_str_eq(s->mounts[0].destination, "/proc");
        ck_assert_ptr_null(s->mounts[0].options);
        ck_assert_str_eq(s->mounts[2].type, "devpts");
        ck_assert_str_eq(s->mounts[2].options[5], "gid=5");
        ck_assert_str_eq(s->mounts[6].destination, "/sys/fs/cgroup");
        for (int k = 0; k < _OCI_HOOK_KIND_MAX; k++)
                ck_assert_uint_eq(s->hooks[k].n, 0);
        struct oci_linux *l = s->linux_;
        ck_assert_uint_eq(l->n_namespaces, 5);
        ck_assert_int_eq(l->namespaces[0].type, OCI_NS_PID);
        ck_assert_int_eq(l->namespaces[1].type, OCI_NS_NETWORK);
        ck_assert_int_eq(l->namespaces[4].type, OCI_NS_MOUNT);
        ck_assert_ptr_null(l->namespaces[4].path);
        ck_assert_uint_eq(l->resources->n_devices, 1);
        ck_assert(!l->resources->devices[0].allow);
        ck_assert_int_eq(l->resources->devices[0].type, 'a');
        ck_assert_int_eq(l->resources->devices[0].major, -1);
        ck_assert_int_eq(l->resources->devices[0].minor, -1);
        ck_assert_str_eq(l->resources->devices[0].access, "rwm");
        ck_assert_ptr_null(l->resources->memory);
        ck_assert(!l->resources->has_pids_limit);
        ck_assert_str_eq(l->masked_paths[9], "/proc/scsi");
        ck_assert_ptr_null(l->masked_paths[10]);
        ck_assert_str_eq(l->readonly_paths[4], "/proc/sysrq-trigger");
        ck_assert_ptr_null(l->seccomp);
        ck_assert_ptr_null(l->rootfs_propagation);
        ck_assert(!l->has_intel_rdt && !l->personality);
        oci_spec_free(s);

        s = parse_ok(runc_spec_rootless);
        ck_assert_uint_eq(s->linux_->n_uid_mappings, 1);
        ck_assert_uint_eq(s->linux_->gid_mappings[0].size, 1);
        ck_assert_int_eq(s->linux_->namespaces[4].type, OCI_NS_USER);
        ck_assert_ptr_null(s->linux_->resources);
        oci_spec_free(s);
}
END_TEST

/* Our `spec` output is runc's, but for ociVersion (and the rootless mapping's ids). */
static void check_default(bool rootless, const char *runc)
{
        struct json *ours = oci_spec_default(rootless);
        struct json *theirs = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(json_parse(runc, strlen(runc), &theirs, &err), 0);
        ck_assert_str_eq(json_str(json_get(ours, "ociVersion")), "1.1.0");
        json_set_str(theirs, "ociVersion", "1.1.0");
        if (rootless) {
                struct json *l = json_get(theirs, "linux");
                json_get(json_get(l, "uidMappings")->arr.items[0], "hostID")->num.i = geteuid();
                json_get(json_get(l, "uidMappings")->arr.items[0], "hostID")->num.u = geteuid();
                json_get(json_get(l, "gidMappings")->arr.items[0], "hostID")->num.i = getegid();
                json_get(json_get(l, "gidMappings")->arr.items[0], "hostID")->num.u = getegid();
        }
        char *a = json_dump(ours, 0), *b = json_dump(theirs, 0);
        ck_assert_str_eq(a, b);

        /* And it loads. */
        struct oci_spec *s = NULL;
        ck_assert_int_eq(oci_spec_parse(a, strlen(a), &s, &err), 0);
        ck_assert_str_eq(s->oci_version, OCI_RUNTIME_SPEC_VERSION);
        oci_spec_free(s);
        free(a);
        free(b);
        json_free(ours);
        json_free(theirs);
}

START_TEST(test_default_matches_runc)
{
        check_default(false, runc_spec);
        check_default(true, runc_spec_rootless);
}
END_TEST

START_TEST(test_full_process)
{
        struct oci_spec *s = parse_ok(full_config);
        struct oci_process *p = s->process;
        ck_assert(p->terminal && p->has_console_size);
        ck_assert_uint_eq(p->console_height, 25);
        ck_assert_uint_eq(p->console_width, 80);
        ck_assert_uint_eq(p->user.uid, 1000);
        ck_assert_uint_eq(p->user.gid, 1001);
        ck_assert(p->user.has_umask);
        ck_assert_uint_eq(p->user.umask, 022);
        ck_assert_uint_eq(p->user.n_additional_gids, 3);
        ck_assert_uint_eq(p->user.additional_gids[2], UINT32_MAX);
        ck_assert_str_eq(p->user.username, "u");
        ck_assert_str_eq(p->args[2], "true");
        ck_assert_str_eq(p->command_line, "cmd");
        ck_assert_str_eq(p->env[1], "B=");
        ck_assert_str_eq(p->cwd, "/work");
        struct oci_capabilities *c = p->capabilities;
        ck_assert(c->set[OCI_CAP_BOUNDING] == (CAPBIT(0) | CAPBIT(40)));
        ck_assert(c->set[OCI_CAP_EFFECTIVE] == CAPBIT(5));
        ck_assert(c->has[OCI_CAP_INHERITABLE] && c->set[OCI_CAP_INHERITABLE] == 0);
        ck_assert(c->set[OCI_CAP_PERMITTED] == (CAPBIT(21) | CAPBIT(39)));
        ck_assert(!c->has[OCI_CAP_AMBIENT]);
        ck_assert_uint_eq(p->n_rlimits, 2);
        ck_assert(p->rlimits[0].hard == 2048 && p->rlimits[0].soft == 1024);
        ck_assert_int_eq(p->rlimits[1].resource, RLIMIT_CORE);
        ck_assert(p->rlimits[1].hard == UINT64_MAX && p->rlimits[1].soft == 0);
        ck_assert(p->no_new_privileges);
        ck_assert_str_eq(p->apparmor_profile, "prof");
        ck_assert(p->has_oom_score_adj);
        ck_assert_int_eq(p->oom_score_adj, -500);
        ck_assert_str_eq(p->selinux_label, "system_u:system_r:svirt_lxc_net_t:s0");
        ck_assert_int_eq(p->io_priority->class_, 3);
        ck_assert_int_eq(p->io_priority->priority, 7);
        ck_assert_str_eq(p->scheduler->policy, "SCHED_DEADLINE");
        ck_assert_int_eq(p->scheduler->nice, -5);
        ck_assert_int_eq(p->scheduler->priority, 3);
        ck_assert_str_eq(p->scheduler->flags[0], "SCHED_FLAG_RESET_ON_FORK");
        ck_assert(p->scheduler->runtime == 100 && p->scheduler->deadline == 200 &&
                  p->scheduler->period == 300);
        oci_spec_free(s);
}
END_TEST

START_TEST(test_full_root_mounts_hooks)
{
        struct oci_spec *s = parse_ok(full_config);
        ck_assert_str_eq(s->oci_version, "1.1.0");
        ck_assert_str_eq(s->root->path, "/abs/rootfs");
        ck_assert(!s->root->readonly);
        ck_assert_str_eq(s->hostname, "h");
        ck_assert_str_eq(s->domainname, "example.org");
        ck_assert_uint_eq(s->n_mounts, 2);
        struct oci_mount *m = &s->mounts[0];
        ck_assert_str_eq(m->destination, "/data");
        ck_assert_str_eq(m->type, "bind");
        ck_assert_str_eq(m->source, "/src");
        ck_assert_str_eq(m->options[2], "idmap");
        ck_assert_uint_eq(m->n_uid_mappings, 1);
        ck_assert_uint_eq(m->uid_mappings[0].host_id, 100000);
        ck_assert_uint_eq(m->uid_mappings[0].size, 65536);
        ck_assert_uint_eq(m->gid_mappings[0].host_id, 200000);
        ck_assert_str_eq(s->mounts[1].destination, "rel");
        ck_assert_ptr_null(s->mounts[1].type);
        ck_assert_ptr_null(s->mounts[1].source);
        ck_assert_ptr_null(s->mounts[1].uid_mappings);
        ck_assert_str_eq(s->hooks[OCI_HOOK_PRESTART].v[0].path, "/bin/p");
        ck_assert(!s->hooks[OCI_HOOK_PRESTART].v[0].has_timeout);
        struct oci_hook *h = &s->hooks[OCI_HOOK_CREATE_RUNTIME].v[0];
        ck_assert_str_eq(h->args[1], "x");
        ck_assert_str_eq(h->env[0], "E=1");
        ck_assert(h->has_timeout);
        ck_assert_int_eq(h->timeout, 5);
        ck_assert_str_eq(s->hooks[OCI_HOOK_CREATE_CONTAINER].v[0].path, "/bin/cc");
        ck_assert_str_eq(s->hooks[OCI_HOOK_START_CONTAINER].v[0].path, "/bin/sc");
        ck_assert_str_eq(s->hooks[OCI_HOOK_POSTSTART].v[0].path, "/bin/ps");
        ck_assert_uint_eq(s->hooks[OCI_HOOK_POSTSTOP].n, 2);
        ck_assert_str_eq(s->hooks[OCI_HOOK_POSTSTOP].v[1].path, "/bin/pst2");
        ck_assert_uint_eq(s->n_annotations, 2);
        ck_assert_str_eq(s->annotations[0].key, "org.example.a");
        ck_assert_str_eq(s->annotations[0].value, "1");
        ck_assert_str_eq(s->annotations[1].key, "b");
        ck_assert_str_eq(s->annotations[1].value, "");
        oci_spec_free(s);
}
END_TEST

START_TEST(test_full_linux)
{
        struct oci_spec *s = parse_ok(full_config);
        struct oci_linux *l = s->linux_;
        ck_assert_uint_eq(l->n_namespaces, 8);
        static const char *const ns_order[] = {"pid", "network", "mount",  "ipc",
                                               "uts", "user",    "cgroup", "time"};
        for (size_t i = 0; i < 8; i++)
                ck_assert_str_eq(oci_ns_type_name(l->namespaces[i].type), ns_order[i]);
        ck_assert_str_eq(l->namespaces[1].path, "/var/run/netns/x");
        ck_assert_ptr_null(l->namespaces[7].path); /* "" means create */
        ck_assert_uint_eq(l->n_uid_mappings, 2);
        ck_assert_uint_eq(l->uid_mappings[1].container_id, 1);
        ck_assert_uint_eq(l->uid_mappings[1].host_id, 100000);
        ck_assert_uint_eq(l->uid_mappings[1].size, 65535);
        ck_assert_uint_eq(l->n_gid_mappings, 1);
        ck_assert_uint_eq(l->n_devices, 2);
        struct oci_device *d = &l->devices[0];
        ck_assert_str_eq(d->path, "/dev/fuse");
        ck_assert_int_eq(d->type, 'c');
        ck_assert(d->major == 10 && d->minor == 229);
        ck_assert(d->has_file_mode && d->file_mode == 0666);
        ck_assert(d->has_uid && d->has_gid);
        ck_assert_int_eq(l->devices[1].type, 'p');
        ck_assert(!l->devices[1].has_file_mode && !l->devices[1].has_uid);
        ck_assert_str_eq(l->cgroups_path, "/berth/test");
        ck_assert_uint_eq(l->n_sysctl, 2);
        ck_assert_str_eq(l->sysctl[0].key, "net.ipv4.ip_forward");
        ck_assert_str_eq(l->sysctl[1].value, "4096");
        ck_assert_str_eq(l->rootfs_propagation, "rslave");
        ck_assert_str_eq(l->masked_paths[0], "/proc/kcore");
        ck_assert_str_eq(l->readonly_paths[0], "/proc/sys");
        ck_assert_str_eq(l->mount_label, "system_u:object_r:svirt_sandbox_file_t:s0");
        ck_assert(l->boottime.present && l->boottime.secs == -3600 && l->boottime.nanosecs == 5);
        ck_assert(l->monotonic.present && l->monotonic.secs == 86400 && l->monotonic.nanosecs == 0);
        ck_assert(l->has_intel_rdt);
        ck_assert_str_eq(json_str(json_get(l->personality, "domain")), "LINUX32");
        oci_spec_free(s);
}
END_TEST

START_TEST(test_full_resources)
{
        struct oci_spec *s = parse_ok(full_config);
        struct oci_resources *r = s->linux_->resources;
        ck_assert_uint_eq(r->n_devices, 2);
        struct oci_device_cgroup *dc = &r->devices[1];
        ck_assert(dc->allow && dc->type == 'c' && dc->major == 10 && dc->minor == 229);
        ck_assert_str_eq(dc->access, "rw");
        struct oci_memory *m = r->memory;
        ck_assert(m->has_limit && m->limit == 536870912);
        ck_assert(m->has_reservation && m->reservation == 268435456);
        ck_assert(m->has_swap && m->swap == -1);
        ck_assert(m->has_kernel && m->kernel == 0);
        ck_assert(m->has_kernel_tcp && m->kernel_tcp == 1024);
        ck_assert(m->has_swappiness && m->swappiness == 60);
        ck_assert(m->has_disable_oom_killer && m->disable_oom_killer);
        ck_assert(m->has_use_hierarchy && !m->use_hierarchy);
        ck_assert(m->has_check_before_update && m->check_before_update);
        struct oci_cpu *c = r->cpu;
        ck_assert(c->has_shares && c->shares == 512);
        ck_assert(c->has_quota && c->quota == -1);
        ck_assert(c->has_burst && c->burst == 1000);
        ck_assert(c->has_period && c->period == 100000);
        ck_assert(c->has_realtime_runtime && c->realtime_runtime == 950000);
        ck_assert(c->has_realtime_period && c->realtime_period == 1000000);
        ck_assert(c->has_idle && c->idle == 1);
        ck_assert_str_eq(c->cpus, "0-1");
        ck_assert_str_eq(c->mems, "0");
        ck_assert(r->has_pids_limit && r->pids_limit == -1);
        struct oci_blkio *b = r->blkio;
        ck_assert(b->has_weight && b->weight == 500);
        ck_assert(b->has_leaf_weight && b->leaf_weight == 300);
        ck_assert_uint_eq(b->n_weight_devices, 2);
        ck_assert(b->weight_devices[0].has_weight && b->weight_devices[0].weight == 600);
        ck_assert(!b->weight_devices[0].has_leaf_weight);
        ck_assert(b->weight_devices[1].minor == 16 && b->weight_devices[1].leaf_weight == 200);
        ck_assert(!b->weight_devices[1].has_weight);
        ck_assert(b->throttle[OCI_THROTTLE_READ_BPS][0].rate == 1048576);
        ck_assert(b->throttle[OCI_THROTTLE_WRITE_BPS][0].rate == 2097152);
        ck_assert(b->throttle[OCI_THROTTLE_READ_IOPS][0].rate == 100);
        ck_assert_uint_eq(b->n_throttle[OCI_THROTTLE_WRITE_IOPS], 2);
        ck_assert(b->throttle[OCI_THROTTLE_WRITE_IOPS][1].major == 8 &&
                  b->throttle[OCI_THROTTLE_WRITE_IOPS][1].minor == 16 &&
                  b->throttle[OCI_THROTTLE_WRITE_IOPS][1].rate == 300);
        ck_assert_uint_eq(r->n_hugepage_limits, 2);
        ck_assert_str_eq(r->hugepage_limits[0].page_size, "2MB");
        ck_assert(r->hugepage_limits[0].limit == 209715200);
        ck_assert(r->network->has_class_id && r->network->class_id == 1048577);
        ck_assert_uint_eq(r->network->n_priorities, 2);
        ck_assert_str_eq(r->network->priorities[0].name, "eth0");
        ck_assert_uint_eq(r->network->priorities[0].priority, 500);
        ck_assert_uint_eq(r->n_rdma, 2);
        ck_assert_str_eq(r->rdma[0].device, "mlx5_1");
        ck_assert(r->rdma[0].has_hca_handles && r->rdma[0].hca_handles == 3);
        ck_assert(r->rdma[0].has_hca_objects && r->rdma[0].hca_objects == 10000);
        ck_assert(!r->rdma[1].has_hca_handles && r->rdma[1].has_hca_objects);
        ck_assert_uint_eq(r->n_unified, 2);
        ck_assert_str_eq(r->unified[1].key, "io.weight");
        ck_assert_str_eq(r->unified[1].value, "default 100");
        oci_spec_free(s);
}
END_TEST

START_TEST(test_full_seccomp)
{
        struct oci_spec *s = parse_ok(full_config);
        struct oci_seccomp *sc = s->linux_->seccomp;
        ck_assert_int_eq(sc->default_action, OCI_SCMP_ACT_ERRNO);
        ck_assert(sc->has_default_errno_ret && sc->default_errno_ret == 1);
        ck_assert_str_eq(sc->architectures[1], "SCMP_ARCH_X86");
        ck_assert_str_eq(sc->flags[0], "SECCOMP_FILTER_FLAG_LOG");
        ck_assert_str_eq(sc->listener_path, "/run/l.sock");
        ck_assert_str_eq(sc->listener_metadata, "meta");
        ck_assert_uint_eq(sc->n_syscalls, 3);
        ck_assert_str_eq(sc->syscalls[0].names[1], "write");
        ck_assert_int_eq(sc->syscalls[0].action, OCI_SCMP_ACT_ALLOW);
        ck_assert(!sc->syscalls[0].has_errno_ret);
        ck_assert_uint_eq(sc->syscalls[0].n_args, 0);
        struct oci_seccomp_syscall *sys = &sc->syscalls[1];
        ck_assert(sys->has_errno_ret && sys->errno_ret == 38);
        ck_assert_uint_eq(sys->n_args, 2);
        ck_assert(sys->args[0].index == 0 && sys->args[0].value == 8 &&
                  sys->args[0].op == OCI_SCMP_CMP_EQ);
        ck_assert(sys->args[1].index == 5 && sys->args[1].value == 255 &&
                  sys->args[1].value_two == 4 && sys->args[1].op == OCI_SCMP_CMP_MASKED_EQ);
        ck_assert_int_eq(sc->syscalls[2].action, OCI_SCMP_ACT_KILL_PROCESS);
        oci_spec_free(s);
}
END_TEST

START_TEST(test_null_means_absent)
{
        struct oci_spec *s = parse_ok("{'ociVersion':'1.1.0','process':null,'root':null,"
                                      "'mounts':null,'hooks':{'prestart':null},"
                                      "'linux':{'resources':null,'seccomp':null,'sysctl':null}}");
        ck_assert_ptr_null(s->process);
        ck_assert_ptr_null(s->root);
        ck_assert_uint_eq(s->n_mounts, 0);
        ck_assert_ptr_nonnull(s->linux_);
        ck_assert_ptr_null(s->linux_->resources);
        oci_spec_free(s);

        /* Unknown keys are ignored, as runc does. */
        s = parse_ok("{'ociVersion':'1.1.0','windows':{'x':1},'linux':{'future':[1]}}");
        ck_assert_ptr_null(s->linux_->namespaces);
        oci_spec_free(s);
}
END_TEST

#define V "{'ociVersion':'1.1.0',"
#define P V "'process':{'cwd':'/','args':['sh'],"
#define L V "'linux':{"
#define R L "'resources':{"
#define S L "'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':['x'],"

static const struct {
        const char *json, *msg;
} bad[] = {
    {"[]", "expected a JSON object, got array"},
    {"{}", "ociVersion: missing required field"},
    {"{'ociVersion':5}", "ociVersion: expected string, got number"},
    {"{'ociVersion':''}", "ociVersion: must not be empty"},
    {V "'root':{}}", "root.path: missing required field"},
    {V "'root':{'path':1}}", "root.path: expected string, got number"},
    {V "'root':{'path':''}}", "root.path: must not be empty"},
    {V "'root':{'path':'r','readonly':'yes'}}", "root.readonly: expected boolean, got string"},
    {V "'root':[]}", "root: expected object, got array"},
    {V "'process':1}", "process: expected object, got number"},
    {V "'process':{}}", "process.args: missing required field"},
    {V "'process':{'args':[]}}", "process.args: must not be empty"},
    {V "'process':{'args':['sh']}}", "process.cwd: missing required field"},
    {P "'env':['A=1','B']}}", "process.env[1]: 'B' is not NAME=VALUE"},
    {P "'env':['=1']}}", "process.env[0]: '=1' has an empty name"},
    {P "'env':['A\\n']}}", "process.env[0]: 'A\\x0a' is not NAME=VALUE"},
    {V "'process':{'args':['sh'],'cwd':'tmp'}}", "process.cwd: 'tmp' is not an absolute path"},
    {P "'args':1}}", "process.args: expected array of strings, got number"},
    {P "'args':['a',2]}}", "process.args[1]: expected string, got number"},
    {P "'args':['a',null]}}", "process.args[1]: expected string, got null"},
    {P "'env':['A\\u0000B']}}", "process.env[0]: string contains a NUL byte"},
    {P "'terminal':'yes'}}", "process.terminal: expected boolean, got string"},
    {P "'user':{'uid':-1}}}", "process.user.uid: -1 is not an unsigned 32-bit integer"},
    {P "'user':{'uid':4294967296}}}",
     "process.user.uid: 4294967296 is not an unsigned 32-bit integer"},
    {P "'user':{'gid':1.5}}}", "process.user.gid: 1.5 is not an unsigned 32-bit integer"},
    {P "'user':{'umask':512}}}", "process.user.umask: 01000 is not a file mode mask (0 to 0777)"},
    {P "'user':{'additionalGids':['a']}}}",
     "process.user.additionalGids[0]: expected unsigned integer, got string"},
    {P "'consoleSize':{'height':1}}}", "process.consoleSize.width: missing required field"},
    {P "'capabilities':'x'}}", "process.capabilities: expected object, got string"},
    {P "'capabilities':{'bounding':['CAP_CHOWN','CAP_FOO']}}}",
     "process.capabilities.bounding[1]: unknown capability 'CAP_FOO'"},
    {P "'capabilities':{'ambient':['chown']}}}",
     "process.capabilities.ambient[0]: unknown capability 'chown'"},
    {P "'rlimits':[{'type':'RLIMIT_FOO','hard':1,'soft':1}]}}",
     "process.rlimits[0].type: unknown rlimit 'RLIMIT_FOO'"},
    {P "'rlimits':[{'type':'RLIMIT_NOFILE','hard':1,'soft':1},"
       "{'type':'RLIMIT_NOFILE','hard':2,'soft':2}]}}",
     "process.rlimits[1].type: duplicate rlimit 'RLIMIT_NOFILE'"},
    {P "'rlimits':[{'type':'RLIMIT_NOFILE','hard':1024,'soft':2048}]}}",
     "process.rlimits[0]: soft limit 2048 is greater than hard limit 1024"},
    {P "'rlimits':[{'type':'RLIMIT_NOFILE','soft':1}]}}",
     "process.rlimits[0].hard: missing required field"},
    {P "'rlimits':[null]}}", "process.rlimits[0]: expected object, got null"},
    {P "'oomScoreAdj':1001}}", "process.oomScoreAdj: 1001 is out of range -1000..1000"},
    {P "'ioPriority':{'class':'IOPRIO_CLASS_X'}}}",
     "process.ioPriority.class: unknown I/O priority class 'IOPRIO_CLASS_X'"},
    {P "'ioPriority':{'class':'IOPRIO_CLASS_BE','priority':8}}}",
     "process.ioPriority.priority: 8 is out of range 0..7"},
    {P "'scheduler':{'policy':'SCHED_X'}}}",
     "process.scheduler.policy: unknown scheduling policy 'SCHED_X'"},
    {P "'scheduler':{'policy':'SCHED_OTHER','flags':['X']}}}",
     "process.scheduler.flags[0]: unknown scheduler flag 'X'"},
    {P "'scheduler':{'policy':'SCHED_OTHER','nice':20}}}",
     "process.scheduler.nice: 20 is out of range -20..19"},
    {V "'mounts':'x'}", "mounts: expected array, got string"},
    {V "'mounts':[1]}", "mounts[0]: expected object, got number"},
    {V "'mounts':[{}]}", "mounts[0].destination: missing required field"},
    {V "'mounts':[{'destination':'/a','options':[1]}]}",
     "mounts[0].options[0]: expected string, got number"},
    {V "'mounts':[{'destination':'/a','uidMappings':[{'containerID':0,'hostID':0}]}]}",
     "mounts[0].uidMappings[0].size: missing required field"},
    {V "'hooks':[]}", "hooks: expected object, got array"},
    {V "'hooks':{'prestart':[{}]}}", "hooks.prestart[0].path: missing required field"},
    {V "'hooks':{'poststop':[{'path':'bin/x'}]}}",
     "hooks.poststop[0].path: 'bin/x' is not an absolute path"},
    {V "'hooks':{'createRuntime':[{'path':'/x','timeout':0}]}}",
     "hooks.createRuntime[0].timeout: 0 is not a positive number of seconds"},
    {V "'hooks':{'startContainer':[{'path':'/x','args':'a'}]}}",
     "hooks.startContainer[0].args: expected array of strings, got string"},
    {V "'annotations':{'a':1}}", "annotations[\"a\"]: expected string, got number"},
    {V "'annotations':{'':'x'}}", "annotations[\"\"]: empty key"},
    {V "'linux':'x'}", "linux: expected object, got string"},
    {L "'namespaces':[{'type':'pidd'}]}}",
     "linux.namespaces[0].type: unknown namespace type 'pidd'"},
    {L "'namespaces':[{'type':'pid'},{'type':'pid','path':'/proc/1/ns/pid'}]}}",
     "linux.namespaces[1].type: duplicate namespace type 'pid'"},
    {L "'namespaces':[{}]}}", "linux.namespaces[0].type: missing required field"},
    {L "'uidMappings':[{'containerID':0,'hostID':-5,'size':1}]}}",
     "linux.uidMappings[0].hostID: -5 is not an unsigned 32-bit integer"},
    {L "'devices':[{'path':'dev/x','type':'c','major':1,'minor':1}]}}",
     "linux.devices[0].path: 'dev/x' is not an absolute path"},
    {L "'devices':[{'path':'/dev/x','type':'x'}]}}",
     "linux.devices[0].type: unknown device type 'x' (expected c, b, u or p)"},
    {L "'devices':[{'path':'/dev/x','type':'c'}]}}",
     "linux.devices[0].major: missing required field"},
    {L "'cgroupsPath':7}}", "linux.cgroupsPath: expected string, got number"},
    {R "'devices':[{'access':'rwm'}]}}}",
     "linux.resources.devices[0].allow: missing required field"},
    {R "'devices':[{'allow':true,'access':'rwx'}]}}}",
     "linux.resources.devices[0].access: 'rwx' is not a combination of r, w and m"},
    {R "'devices':[{'allow':true,'type':'p'}]}}}",
     "linux.resources.devices[0].type: unknown device type 'p' (expected a, c or b)"},
    {R "'pids':{'limit':-2}}}}",
     "linux.resources.pids.limit: -2 is not a number of processes or -1 (unlimited)"},
    {R "'pids':{}}}}", "linux.resources.pids.limit: missing required field"},
    {R "'memory':{'limit':'1g'}}}}", "linux.resources.memory.limit: expected integer, got string"},
    {R "'memory':{'swappiness':101}}}}",
     "linux.resources.memory.swappiness: 101 is out of range 0..100"},
    {R "'cpu':{'shares':-1}}}}",
     "linux.resources.cpu.shares: -1 is not an unsigned 64-bit integer"},
    {R "'cpu':{'cpus':0}}}}", "linux.resources.cpu.cpus: expected string, got number"},
    {R "'blockIO':{'weight':70000}}}}",
     "linux.resources.blockIO.weight: 70000 is not an unsigned 16-bit integer"},
    {R "'blockIO':{'weightDevice':[{'major':8}]}}}}",
     "linux.resources.blockIO.weightDevice[0].minor: missing required field"},
    {R "'blockIO':{'throttleReadBpsDevice':[{'major':8,'minor':0}]}}}}",
     "linux.resources.blockIO.throttleReadBpsDevice[0].rate: missing required field"},
    {R "'blockIO':{'throttleWriteIOPSDevice':{}}}}}",
     "linux.resources.blockIO.throttleWriteIOPSDevice: expected array, got object"},
    {R "'hugepageLimits':[{'limit':1}]}}}",
     "linux.resources.hugepageLimits[0].pageSize: missing required field"},
    {R "'network':{'priorities':[{'name':'eth0'}]}}}}",
     "linux.resources.network.priorities[0].priority: missing required field"},
    {R "'network':{'classID':true}}}}",
     "linux.resources.network.classID: expected unsigned integer, got boolean"},
    {R "'rdma':{'mlx':1}}}}", "linux.resources.rdma[\"mlx\"]: expected object, got number"},
    {R "'rdma':{'a b':{}}}}}", "linux.resources.rdma[\"a b\"]: not an RDMA device name"},
    {R "'hugepageLimits':[{'pageSize':'../2MB','limit':1}]}}}",
     "linux.resources.hugepageLimits[0].pageSize: '../2MB' is not a page size like 2MB or 1GB"},
    {R "'hugepageLimits':[{'pageSize':'2M','limit':1}]}}}",
     "linux.resources.hugepageLimits[0].pageSize: '2M' is not a page size like 2MB or 1GB"},
    {R "'network':{'priorities':[{'name':'eth0 1','priority':1}]}}}}",
     "linux.resources.network.priorities[0].name: 'eth0 1' is not a network interface name"},
    {R "'network':{'priorities':[{'name':'averyveryverylongname','priority':1}]}}}}",
     "linux.resources.network.priorities[0].name: 'averyveryverylongname' is not a network "
     "interface name"},
    {R "'unified':{'../../cgroup.procs':'1'}}}}",
     "linux.resources.unified[\"../../cgroup.procs\"]: not a cgroup file name"},
    {L "'sysctl':{'net.ipv4..x':'1'}}}", "linux.sysctl[\"net.ipv4..x\"]: not a sysctl name"},
    {L "'sysctl':{'kernel/../../x':'1'}}}", "linux.sysctl[\"kernel/../../x\"]: not a sysctl name"},
    {L "'sysctl':{'.kernel':'1'}}}", "linux.sysctl[\".kernel\"]: not a sysctl name"},
    {L "'sysctl':{'kernel.':'1'}}}", "linux.sysctl[\"kernel.\"]: not a sysctl name"},
    {L "'sysctl':{'net.ipv4.conf.eth0/1.forwarding':1}}}",
     "linux.sysctl[\"net.ipv4.conf.eth0/1.forwarding\"]: expected string, got number"},
    {L "'personality':{'domain':'BSD'}}}",
     "linux.personality.domain: unknown personality domain 'BSD'"},
    {L "'personality':{'flags':[]}}}", "linux.personality.domain: missing required field"},
    {L "'personality':{'domain':'LINUX','flags':[1]}}}",
     "linux.personality.flags[0]: expected string, got number"},
    {R "'unified':{'memory.max':5}}}}",
     "linux.resources.unified[\"memory.max\"]: expected string, got number"},
    {L "'sysctl':{'net.ipv4.ip_forward':1}}}",
     "linux.sysctl[\"net.ipv4.ip_forward\"]: expected string, got number"},
    {L "'seccomp':{}}}", "linux.seccomp.defaultAction: missing required field"},
    {L "'seccomp':{'defaultAction':'SCMP_ACT_FOO'}}}",
     "linux.seccomp.defaultAction: unknown seccomp action 'SCMP_ACT_FOO'"},
    {S "'action':'ALLOW'}]}}}", "linux.seccomp.syscalls[0].action: unknown seccomp action 'ALLOW'"},
    {L "'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':[],"
       "'action':'SCMP_ACT_ALLOW'}]}}}",
     "linux.seccomp.syscalls[0].names: must not be empty"},
    {L "'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'action':'SCMP_ACT_ALLOW'}]}}}",
     "linux.seccomp.syscalls[0].names: missing required field"},
    {S "'action':'SCMP_ACT_ALLOW','args':[{'index':6,'value':1,'op':'SCMP_CMP_EQ'}]}]}}}",
     "linux.seccomp.syscalls[0].args[0].index: 6 is not a system call argument (0..5)"},
    {S "'action':'SCMP_ACT_ALLOW','args':[{'index':0,'value':1,'op':'SCMP_CMP_XX'}]}]}}}",
     "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator 'SCMP_CMP_XX'"},
    {S "'action':'SCMP_ACT_ALLOW','args':[{'index':0,'value':-1,'op':'SCMP_CMP_EQ'}]}]}}}",
     "linux.seccomp.syscalls[0].args[0].value: -1 is not an unsigned 64-bit integer"},
    {S "'action':'SCMP_ACT_ERRNO','errnoRet':-1}]}}}",
     "linux.seccomp.syscalls[0].errnoRet: -1 is not an unsigned 32-bit integer"},
    {L "'rootfsPropagation':'foo'}}", "linux.rootfsPropagation: unknown propagation mode 'foo'"},
    {L "'maskedPaths':'x'}}", "linux.maskedPaths: expected array of strings, got string"},
    {L "'readonlyPaths':[1]}}", "linux.readonlyPaths[0]: expected string, got number"},
    {L "'timeOffsets':{'boottime':{'secs':1,'nanosecs':1000000000}}}}",
     "linux.timeOffsets.boottime.nanosecs: 1000000000 is not below one second"},
    {L "'timeOffsets':{'monotonic':{'secs':'1'}}}}",
     "linux.timeOffsets.monotonic.secs: expected integer, got string"},
    {L "'personality':'x'}}", "linux.personality: expected object, got string"},
    {L "'intelRdt':1}}", "linux.intelRdt: expected object, got number"},
};

START_TEST(test_errors)
{
        char *m = parse_err(bad[_i].json);
        ck_assert_msg(strcmp(m, bad[_i].msg) == 0, "input %s:\n got: %s\nwant: %s", bad[_i].json, m,
                      bad[_i].msg);
        free(m);
}
END_TEST

START_TEST(test_malformed_json_has_position)
{
        char *m = parse_err("{'ociVersion':'1.1.0',\n'process':{'cwd':'/',}}");
        ck_assert_msg(strstr(m, "line 2 column") == m, "got: %s", m);
        free(m);
}
END_TEST

/* Every proper prefix of a valid config is an error, never a crash or a leak. */
static void check_prefixes(const char *text)
{
        _cleanup_free_ char *s = J(text);
        size_t len = strlen(s);
        for (size_t n = 0; n < len; n++) {
                char *copy = xmalloc(n ? n : 1); /* exact size: ASan catches over-reads */
                memcpy(copy, s, n);
                struct berth_error *err = NULL;
                struct oci_spec *spec = NULL;
                int r = oci_spec_parse(copy, n, &spec, &err);
                ck_assert_msg(r < 0, "prefix of %zu bytes parsed", n);
                ck_assert_ptr_null(spec);
                ck_assert_msg(err && err->msg && *err->msg, "no message at %zu", n);
                berth_error_free(err);
                free(copy);
        }
        struct oci_spec *spec = parse_ok(text);
        oci_spec_free(spec);
}

START_TEST(test_truncated)
{
        check_prefixes(runc_spec);
        check_prefixes(full_config);
}
END_TEST

START_TEST(test_too_large)
{
        size_t n = OCI_CONFIG_MAX_SIZE + 1;
        char *big = xmalloc(n);
        memset(big, ' ', n);
        big[0] = '{';
        struct berth_error *err = NULL;
        struct oci_spec *spec = NULL;
        ck_assert_int_eq(oci_spec_parse(big, n, &spec, &err), -EFBIG);
        ck_assert_str_eq(err->msg, "config is larger than 16777216 bytes");
        berth_error_free(err);
        free(big);
}
END_TEST

static char *make_bundle(const char *config)
{
        char *dir = xstrdup("/tmp/test-oci-spec-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        if (config) {
                _cleanup_free_ char *path = xasprintf("%s/config.json", dir);
                _cleanup_free_ char *s = J(config);
                ck_assert_int_eq(write_file_at(AT_FDCWD, path, s, strlen(s), 0644), 0);
        }
        return dir;
}

START_TEST(test_load_bundle)
{
        struct berth_error *err = NULL;
        struct oci_spec *s = NULL;
        char *dir = make_bundle(runc_spec);
        ck_assert_int_eq(oci_spec_load_bundle(dir, &s, &err), 0);
        ck_assert_str_eq(s->root->path, "rootfs");
        oci_spec_free(s);
        s = NULL;

        /* NULL and "" mean the current directory, as runc's --bundle does. */
        int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(cwd, 0);
        ck_assert_int_eq(chdir(dir), 0);
        ck_assert_int_eq(oci_spec_load_bundle(NULL, &s, &err), 0);
        oci_spec_free(s);
        s = NULL;
        ck_assert_int_eq(oci_spec_load_bundle("", &s, &err), 0);
        oci_spec_free(s);
        s = NULL;
        ck_assert_int_eq(fchdir(cwd), 0);
        close(cwd);
        ck_assert_int_eq(rm_rf(dir), 0);
        free(dir);

        dir = make_bundle(V "'process':{'args':['sh'],'cwd':'x'}}");
        ck_assert_int_lt(oci_spec_load_bundle(dir, &s, &err), 0);
        _cleanup_free_ char *want =
            xasprintf("'%s/config.json': process.cwd: 'x' is not an absolute path", dir);
        ck_assert_str_eq(err->msg, want);
        berth_error_free(err);
        err = NULL;
        ck_assert_int_eq(rm_rf(dir), 0);
        free(dir);

        dir = make_bundle(NULL);
        ck_assert_int_eq(oci_spec_load_bundle(dir, &s, &err), -ENOENT);
        _cleanup_free_ char *want2 = xasprintf("open '%s/config.json'", dir);
        ck_assert_msg(strncmp(err->msg, want2, strlen(want2)) == 0, "got: %s", err->msg);
        berth_error_free(err);
        err = NULL;

        _cleanup_free_ char *sub = xasprintf("%s/config.json", dir);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        ck_assert_int_eq(oci_spec_load_bundle(dir, &s, &err), -EINVAL);
        ck_assert_msg(strstr(err->msg, "is not a regular file") != NULL, "got: %s", err->msg);
        berth_error_free(err);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(rm_rf(dir), 0);
        free(dir);
}
END_TEST

START_TEST(test_process_parse)
{
        _cleanup_free_ char *ok = J("{'args':['ls','-l'],'cwd':'/tmp','env':['A=1'],"
                                    "'user':{'uid':5,'gid':6},'terminal':false,"
                                    "'capabilities':{'bounding':['CAP_NET_RAW']}}");
        struct berth_error *err = NULL;
        struct oci_process *p = NULL;
        ck_assert_int_eq(oci_process_parse(ok, strlen(ok), &p, &err), 0);
        ck_assert_str_eq(p->args[1], "-l");
        ck_assert_str_eq(p->cwd, "/tmp");
        ck_assert_uint_eq(p->user.gid, 6);
        ck_assert(p->capabilities->set[OCI_CAP_BOUNDING] == CAPBIT(13));
        oci_process_free(p);
        p = NULL;

        _cleanup_free_ char *noargs = J("{'args':[],'cwd':'/'}");
        ck_assert_int_lt(oci_process_parse(noargs, strlen(noargs), &p, &err), 0);
        ck_assert_str_eq(err->msg, "args: must not be empty");
        berth_error_free(err);
        err = NULL;

        _cleanup_free_ char *badcap =
            J("{'args':['x'],'cwd':'/','capabilities':{'effective':['CAP_X']}}");
        ck_assert_int_lt(oci_process_parse(badcap, strlen(badcap), &p, &err), 0);
        ck_assert_str_eq(err->msg, "capabilities.effective[0]: unknown capability 'CAP_X'");
        berth_error_free(err);
        ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_name_tables)
{
        for (int t = 0; t < _OCI_NS_MAX; t++)
                ck_assert_int_eq(oci_ns_type_from_name(oci_ns_type_name(t)), t);
        ck_assert_str_eq(oci_ns_type_name(OCI_NS_NETWORK), "network");
        ck_assert_int_eq(oci_ns_type_from_name("net"), -1);
        ck_assert_int_eq(oci_ns_type_from_name(NULL), -1);
        ck_assert_ptr_null(oci_ns_type_name(_OCI_NS_MAX));

        const char *hooks[] = {"prestart",       "createRuntime", "createContainer",
                               "startContainer", "poststart",     "poststop"};
        for (int k = 0; k < _OCI_HOOK_KIND_MAX; k++)
                ck_assert_str_eq(oci_hook_kind_name(k), hooks[k]);

        ck_assert_int_eq(oci_cap_last(), 40);
        for (int c = 0; c <= oci_cap_last(); c++)
                ck_assert_int_eq(oci_cap_from_name(oci_cap_name(c)), c);
        ck_assert_int_eq(oci_cap_from_name("CAP_CHOWN"), 0);
        ck_assert_int_eq(oci_cap_from_name("CAP_SYS_ADMIN"), 21);
        ck_assert_int_eq(oci_cap_from_name("CAP_AUDIT_READ"), 37);
        ck_assert_str_eq(oci_cap_name(40), "CAP_CHECKPOINT_RESTORE");
        ck_assert_ptr_null(oci_cap_name(41));
        ck_assert_ptr_null(oci_cap_name(-1));
        ck_assert_int_eq(oci_cap_from_name("CAP_chown"), -1);

        ck_assert_int_eq(oci_rlimit_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
        ck_assert_int_eq(oci_rlimit_from_name("RLIMIT_RTTIME"), RLIMIT_RTTIME);
        ck_assert_int_eq(oci_rlimit_from_name("RLIMIT_CPU"), RLIMIT_CPU);
        ck_assert_int_eq(oci_rlimit_from_name("NOFILE"), -1);

        ck_assert_str_eq(oci_seccomp_action_name(OCI_SCMP_ACT_KILL), "SCMP_ACT_KILL");
        ck_assert_str_eq(oci_seccomp_action_name(OCI_SCMP_ACT_NOTIFY), "SCMP_ACT_NOTIFY");
        for (int a = OCI_SCMP_ACT_KILL; a <= OCI_SCMP_ACT_NOTIFY; a++)
                ck_assert_int_eq(oci_seccomp_action_from_name(oci_seccomp_action_name(a)), a);
        for (int o = OCI_SCMP_CMP_NE; o <= OCI_SCMP_CMP_MASKED_EQ; o++)
                ck_assert_int_eq(oci_seccomp_op_from_name(oci_seccomp_op_name(o)), o);
        ck_assert_str_eq(oci_seccomp_op_name(OCI_SCMP_CMP_MASKED_EQ), "SCMP_CMP_MASKED_EQ");
}
END_TEST

static Suite *oci_spec_suite(void)
{
        Suite *s = suite_create("oci-spec");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_runc_default_parses);
        tcase_add_test(tc, test_default_matches_runc);
        tcase_add_test(tc, test_full_process);
        tcase_add_test(tc, test_full_root_mounts_hooks);
        tcase_add_test(tc, test_full_linux);
        tcase_add_test(tc, test_full_resources);
        tcase_add_test(tc, test_full_seccomp);
        tcase_add_test(tc, test_null_means_absent);
        tcase_add_loop_test(tc, test_errors, 0, (int)ELEMENTSOF(bad));
        tcase_add_test(tc, test_malformed_json_has_position);
        tcase_add_test(tc, test_truncated);
        tcase_add_test(tc, test_too_large);
        tcase_add_test(tc, test_load_bundle);
        tcase_add_test(tc, test_process_parse);
        tcase_add_test(tc, test_name_tables);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(oci_spec_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
