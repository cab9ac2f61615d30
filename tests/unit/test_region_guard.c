// SPDX-License-Identifier: MIT
/*
 * test_region_guard.c - slowpath/region_guard.c: a kernel-raised SIGBUS
 * inside a guarded region replaces that region in this process's view and
 * is survived; every other SIGBUS meets the disposition from before the
 * guard exactly as it would have without it.
 *
 * A SIGBUS is made the portable way: a shared mapping two pages long of a
 * memfd one page long, touched in its second page (BUS_ADRERR).  Each test
 * sets the previous disposition itself, so a sanitizer's own handler never
 * decides the outcome.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "dataplane.h"
#include "sp_internal.h"

static long page;

/* two pages of which only the first has a file page behind it */
static volatile char *faulting_mapping(void)
{
	int fd = memfd_create("guard-test", MFD_CLOEXEC);
	cr_assert(fd >= 0 && !ftruncate(fd, page));
	void *m = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(m, MAP_FAILED);
	close(fd);
	return m;
}

static void set_prev(void (*handler)(int), int flags)
{
	struct sigaction sa = { .sa_handler = handler, .sa_flags = flags };
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGBUS, &sa, NULL), 0);
}

static void install(void)
{
	char err[128];
	cr_assert_eq(sp_region_guard_init(4, -1, err, sizeof(err)), 0, "%s", err);
}

static void setup(void)
{
	page = sysconf(_SC_PAGESIZE);
	dp_role_set(DP_ROLE_SP, 0);
}

TestSuite(region_guard, .init = setup);

Test(region_guard, a_fault_in_a_region_replaces_the_whole_region)
{
	set_prev(SIG_DFL, 0);
	install();
	volatile char *m = faulting_mapping();
	m[0] = 7;
	sp_region_guard_add(2, (const void *)m, 2 * (uint64_t)page);
	cr_assert_not(sp_region_guard_take());

	m[page] = 1; /* SIGBUS: beyond the file */

	cr_assert(sp_region_guard_take(), "the fault was not taken for a region's");
	cr_assert(sp_region_guard_lost(2));
	cr_assert_not(sp_region_guard_lost(1));
	cr_assert_eq(m[page], 1, "the retried write did not land in the stand-in");
	cr_assert_eq(m[0], 0, "the region's first page was not replaced with it");
	cr_assert_not(sp_region_guard_take(), "the news are taken once");
	sp_region_guard_del(2);
	sp_region_guard_fini();
}

Test(region_guard, a_fault_elsewhere_still_kills, .signal = SIGBUS, .timeout = 10)
{
	set_prev(SIG_DFL, 0);
	install();
	volatile char *m = faulting_mapping();
	m[page] = 1; /* in no region */
	cr_assert_fail("survived a SIGBUS outside every region");
}

Test(region_guard, a_fault_the_old_disposition_ignores_still_kills, .signal = SIGBUS, .timeout = 10)
{
	set_prev(SIG_IGN, 0); /* the kernel forces the default for a fault */
	install();
	volatile char *m = faulting_mapping();
	m[page] = 1;
	cr_assert_fail("an ignored fault was retried forever or survived");
}

static volatile sig_atomic_t calls;

static void count_and_return(int sig)
{
	(void)sig;
	if (++calls > 1)
		_exit(3); /* a one-shot handler must not run twice */
}

Test(region_guard, a_one_shot_handler_runs_once_then_the_fault_kills, .signal = SIGBUS,
     .timeout = 10)
{
	set_prev(count_and_return, SA_RESETHAND);
	install();
	volatile char *m = faulting_mapping();
	m[page] = 1;
	cr_assert_fail("survived");
}

Test(region_guard, a_sent_sigbus_goes_to_the_old_handler_and_the_guard_stays)
{
	calls = 0;
	set_prev(count_and_return, 0);
	install();
	volatile char *m = faulting_mapping();
	sp_region_guard_add(0, (const void *)m, 2 * (uint64_t)page);

	raise(SIGBUS); /* si_code <= 0: no faulting address, whatever si_addr says */

	cr_assert_eq(calls, 1, "the old handler did not get the sent signal");
	cr_assert_not(sp_region_guard_take(), "a sent signal replaced a region");
	m[page] = 1; /* and a real fault is still the guard's */
	cr_assert(sp_region_guard_take());
	sp_region_guard_fini();
}

/* a fault as the kernel reports it (si_code @code at @addr), to this thread:
 * Linux lets a process queue one with si_code > 0 to itself only */
static void fault_signal(int code, volatile void *addr)
{
	siginfo_t si = { .si_signo = SIGBUS, .si_code = code };
	si.si_addr = (void *)addr;
	cr_assert_eq(syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGBUS, &si), 0);
}

Test(region_guard, a_late_fault_on_a_replaced_region_is_still_the_guards)
{
	struct sigaction now;

	calls = 0;
	set_prev(count_and_return, 0);
	install();
	volatile char *m = faulting_mapping();
	sp_region_guard_add(1, (const void *)m, 2 * (uint64_t)page);
	m[page] = 1; /* replaced */
	cr_assert(sp_region_guard_take());

	/* a second thread's fault on the shared mapping whose handler runs
	 * only now: ours, the guard stays, the old handler sees nothing */
	fault_signal(BUS_ADRERR, m + page);
	cr_assert_eq(calls, 0, "a late fault on a replaced region went to the old handler");
	cr_assert_eq(sigaction(SIGBUS, NULL, &now), 0);
	cr_assert(now.sa_flags & SA_SIGINFO, "the guard is gone after a late fault");
	cr_assert_not(sp_region_guard_take(), "a late fault is no news");

	/* a memory error in the stand-in is not ours */
	fault_signal(BUS_MCEERR_AO, m);
	cr_assert_eq(calls, 1, "a memory error in the stand-in was taken for the guard's");
	sp_region_guard_fini();
}

Test(region_guard, fini_puts_the_old_disposition_back)
{
	struct sigaction now;

	set_prev(SIG_IGN, 0);
	install();
	sp_region_guard_fini();
	cr_assert_eq(sigaction(SIGBUS, NULL, &now), 0);
	cr_assert_eq(now.sa_handler, SIG_IGN);
}
