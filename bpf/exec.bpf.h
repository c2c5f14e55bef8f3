/* SPDX-License-Identifier: GPL-2.0 */
/*
 * exec: the executable and arguments of a task of the recorded subtree, taken in the kernel
 * while the process surely exists, so that one that lives a few milliseconds still has
 * them. tp_btf/sched_process_exec runs for every exec of the host and filters itself by
 * cgroup; an exec costs far more than that test.
 */
#ifndef FR_EXEC_BPF_H
#define FR_EXEC_BPF_H

static __always_inline void exec_seen(struct task_struct *task, struct linux_binprm *bprm)
{
	struct fr_exec_event *e;
	unsigned long arg_start, arg_end, len;

	if (bpf_current_task_under_cgroup(&recorded_cgroup, 0) != 1)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(FR_STAT_RINGBUF_FULL);
		return;
	}
	e->type = FR_EV_EXEC;
	e->pid = BPF_CORE_READ(task, tgid);
	e->proc_start_ns = BPF_CORE_READ(task, group_leader, start_time);
	e->_pad = 0;
	if (bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), BPF_CORE_READ(bprm, filename)) < 0)
		e->exe[0] = 0;
	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (len > sizeof(e->args))
		len = sizeof(e->args);
	if (len && bpf_probe_read_user(e->args, len, (void *)arg_start))
		len = 0;
	e->args_len = len;
	ringbuf_submit(&events, e);
}

#endif /* FR_EXEC_BPF_H */
