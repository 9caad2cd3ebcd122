/*
 * The device filter on cgroup v2, where device access is controlled only by
 * a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup. The program
 * checks the plan's rules from the last to the first, because in the OCI
 * runtime spec the last rule that matches decides. No match denies.
 * A rule matches when the type agrees (or is 'a', which the parser allows
 * only with any major and minor) and major and minor agree (or are -1). An
 * allow rule also needs the requested access to be part of its own, and a
 * deny rule needs any overlap, as cgroup v1 decides: `deny c 1:5 w` also
 * denies a read-write open.
 */
#include "runtime.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_INSNS 4096
#define ALL_ACCESS (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)
/*
 * The verifier walks every branch, so its work grows about with the square
 * of the rule count: 385 distinct rules loaded on 6.18 and 400 did not.
 */
#define MAX_RULES 256

static struct bpf_insn insn(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm)
{
  struct bpf_insn out = { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
  return out;
}

/* Emits one rule: jumps over the rest of its block when a field differs, else returns allow. */
static size_t emit_rule(struct bpf_insn *out, const struct device_rule *rule)
{
  struct bpf_insn block[16];
  size_t n = 0, i;

  if (rule->type != 'a')
    block[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
                      rule->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
  if (rule->access != ALL_ACCESS) {
    /* r1 = the requested access outside the rule's (allow) or inside it (deny). */
    __s32 mask = rule->allow ? (__s32)~rule->access : (__s32)rule->access;

    block[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
    block[n++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_1, 0, 0, mask);
    block[n++] = insn(BPF_JMP | (rule->allow ? BPF_JNE : BPF_JEQ) | BPF_K, BPF_REG_1, 0, 0, 0);
  }
  if (rule->major >= 0)
    block[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (__s32)rule->major);
  if (rule->minor >= 0)
    block[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (__s32)rule->minor);
  block[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, rule->allow ? 1 : 0);
  block[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

  /* Each conditional jump lands just after the block's exit. */
  for (i = 0; i + 2 < n; i++)
    if (BPF_CLASS(block[i].code) == BPF_JMP
        && (BPF_OP(block[i].code) == BPF_JNE || BPF_OP(block[i].code) == BPF_JEQ))
      block[i].off = (__s16)(n - i - 1);
  memcpy(out, block, n * sizeof *block);
  return n;
}

/* Returns the verifier log's last line, which names the reason it rejected the program. */
static const char *last_line(char *text)
{
  size_t length = strlen(text);
  char *start;

  while (length > 0 && text[length - 1] == '\n')
    text[--length] = '\0';
  start = strrchr(text, '\n');
  return start ? start + 1 : text;
}

static size_t build_program(const struct plan *plan, struct bpf_insn *out)
{
  size_t n = 0, i;

  /* r2 = device type, r3 = requested access, r4 = major, r5 = minor (struct bpf_cgroup_dev_ctx). */
  out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
  out[n++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
  out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
  out[n++] = insn(BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
  out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
  out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
  for (i = plan->device_rule_count; i-- > 0;) {
    size_t length = emit_rule(out + n, &plan->device_rules[i]);

    n += length;
    /* A rule that matches every access ends the program: the verifier rejects unreachable code. */
    if (length == 2)
      return n;
  }
  out[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
  out[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  return n;
}

int attach_device_filter(const struct plan *plan)
{
  static char log[65536];
  struct bpf_insn *program;
  union bpf_attr load, attach;
  int prog_fd, cgroup_fd;
  size_t count;

  if (!plan->device_filter)
    return 0;
  /* 6 loads, at most 8 instructions per rule and 2 for the final deny fit MAX_INSNS. */
  if (plan->device_rule_count > MAX_RULES)
    return fail("device_filter", plan->device_filter, E2BIG, "more than 256 device rules");
  if (!(program = calloc(MAX_INSNS, sizeof *program)))
    return fail("device_filter", plan->device_filter, ENOMEM, "out of memory");
  count = build_program(plan, program);

  memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (__u64)(unsigned long)program;
  load.insn_cnt = (__u32)count;
  load.license = (__u64)(unsigned long)"Apache-2.0";
  prog_fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
  if (prog_fd < 0) {
    /* Loaded again with the verifier's log only to explain the failure. */
    int saved = errno;

    load.log_buf = (__u64)(unsigned long)log;
    load.log_size = sizeof log;
    load.log_level = 1;
    if (syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load) >= 0 || errno == ENOSPC)
      log[0] = '\0';
    errno = saved;
  }
  free(program);
  if (prog_fd < 0)
    return fail_errno("device_filter", plan->device_filter,
                      log[0] ? last_line(log) : "load the BPF program");

  cgroup_fd = open(plan->device_filter, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgroup_fd < 0) {
    close(prog_fd);
    return fail_errno("device_filter", plan->device_filter, "open the cgroup");
  }
  memset(&attach, 0, sizeof attach);
  attach.target_fd = (__u32)cgroup_fd;
  attach.attach_bpf_fd = (__u32)prog_fd;
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach) < 0) {
    fail_errno("device_filter", plan->device_filter, "attach the BPF program");
    close(cgroup_fd);
    close(prog_fd);
    return -1;
  }
  /*
   * The attachment keeps the program; it goes when the cgroup is removed.
   * NOTE: earlier programs on a reused cgroup directory stay attached and
   * keep applying. The engine makes a new cgroup for each container.
   */
  close(cgroup_fd);
  close(prog_fd);
  return 0;
}
