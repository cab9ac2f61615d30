// SPDX-License-Identifier: MIT
/*
 * The check a client's capture filter passes before a fastpath core runs
 * it (cap_bpf_check(), slowpath/capture_pcapng.c): every program libpcap
 * compiles passes; a jump backwards, one that wraps in 32 bits (which
 * libpcap 1.10.3's bpf_validate() lets through) or lands past the end,
 * and a program whose last instruction does not return, are refused with
 * the instruction's index.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <criterion/criterion.h>
#include <pcap/pcap.h>

#include "capture_pcapng.h"

static int check(const struct bpf_insn *p, uint32_t n, char *err, size_t errlen)
{
	err[0] = 0;
	return cap_bpf_check(p, n, err, errlen);
}

Test(capture_bpf, libpcap_programs_pass)
{
	static const char *const exprs[] = {
		"", "tcp port 80 and greater 100", "tcp[tcpflags] & tcp-syn != 0",
		"ip host 10.0.0.1 or (udp and portrange 1-1024)", "not arp", "len < 60",
		"vlan and tcp", "ip[2:2] > 576 and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
	};
	pcap_t *pc = pcap_open_dead(DLT_EN10MB, 262144);
	cr_assert_not_null(pc);
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		struct bpf_program prog;
		char err[256];
		cr_assert_eq(pcap_compile(pc, &prog, exprs[i], 1, PCAP_NETMASK_UNKNOWN), 0, "%s",
			     exprs[i]);
		cr_expect_eq(check(prog.bf_insns, prog.bf_len, err, sizeof(err)), 0,
			     "'%s' refused: %s", exprs[i], err);
		pcap_freecode(&prog);
	}
	pcap_close(pc);
}

Test(capture_bpf, wrapping_ja_refused)
{
	/* "ja -1": from + k wraps to i in 32 bits; a loop or a wild jump */
	struct bpf_insn p[] = {
		BPF_STMT(BPF_JMP | BPF_JA, 0xffffffffu),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	char err[256];
	/* libpcap's own check passes it (1.10.3); whatever a later one does,
	 * ours must not */
	if (bpf_validate(p, 2))
		cr_log_info("bpf_validate() accepts ja 0xffffffff (%s)",
			    pcap_lib_version());
	cr_assert_eq(check(p, 2, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "instruction 0"), "%s", err);
	p[0].k = 0xfffffffeu; /* a jump to itself minus one */
	cr_assert_eq(check(p, 2, err, sizeof(err)), -EINVAL);
}

Test(capture_bpf, jumps_must_stay_in_the_program)
{
	struct bpf_insn p[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 100, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 262144),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	char err[256];
	cr_assert_eq(check(p, 4, err, sizeof(err)), 0, "%s", err);
	p[1].jf = 2; /* 1 + 1 + 2 = 4: past the end */
	cr_assert_eq(check(p, 4, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "instruction 1"), "%s", err);
	p[1].jf = 1;
	p[1].jt = 255;
	cr_assert_eq(check(p, 4, err, sizeof(err)), -EINVAL);
	p[1].jt = 0;
	struct bpf_insn ja[] = {
		BPF_STMT(BPF_JMP | BPF_JA, 1),
		BPF_STMT(BPF_RET | BPF_K, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	cr_assert_eq(check(ja, 3, err, sizeof(err)), 0, "%s", err);
	ja[0].k = 2; /* onto 3, one past the last */
	cr_assert_eq(check(ja, 3, err, sizeof(err)), -EINVAL);
	ja[0].k = 0x80000000u;
	cr_assert_eq(check(ja, 3, err, sizeof(err)), -EINVAL);
}

Test(capture_bpf, last_must_return)
{
	struct bpf_insn p[] = {
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
	};
	char err[256];
	cr_assert_eq(check(p, 2, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "instruction (1)"), "%s", err);
	cr_assert_eq(check(p, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(check(p, 0, err, sizeof(err)), -EINVAL);
	cr_assert_eq(check(p, CAP_BPF_MAXINSNS + 1, err, sizeof(err)), -EINVAL);
}
