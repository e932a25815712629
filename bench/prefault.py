"""prefault — make the VM back most of free memory before a benchmark times anything.

Why: this project's machines are VMs whose memory the hypervisor backs lazily, on
first touch of each guest page.  Whichever engine first touches fresh guest memory
pays for that (EPT faults, host allocation) inside its timing; the next engine
reuses the pages for free.  So before timing, each benchmark allocates most of
MemFree, writes one byte per page, and frees it all again, and says so in its output.

How: anonymous mmaps of 256 MiB each, up to 90% of MemFree (the rest is left for
whoever else runs), faulted in by the kernel at mmap time (MAP_POPULATE: about a
third faster here than a page fault per page), then one byte written per page by
an extended-slice assignment (done in C inside the mmap object), then all
unmapped.  Nothing is left allocated.
Never: touch page cache or anything on disk; leave memory allocated.
"""
import mmap
import time

CHUNK = 256 << 20
MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0x8000)


def mem_free_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemFree:"):
                return int(line.split()[1]) << 10
    return 0


def touch_free_memory(fraction=0.9):
    """Touch fraction of MemFree once; returns a line for the benchmark's output."""
    page = mmap.PAGESIZE
    want = int(mem_free_bytes() * fraction)
    maps, done = [], 0
    t0 = time.monotonic()
    try:
        while done + CHUNK <= want:
            try:
                m = mmap.mmap(-1, CHUNK,
                              flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_POPULATE)
            except OSError:
                break
            m[::page] = b"\x01" * (CHUNK // page)
            maps.append(m)
            done += CHUNK
    finally:
        for m in maps:
            m.close()
    return ("prefault: wrote one byte per %d-byte page of %.1f GiB (%.0f%% of free memory) and "
            "freed it, in %.1f s, before timing (this VM backs guest memory lazily)" % (
                page, done / (1 << 30), 100 * fraction, time.monotonic() - t0))
